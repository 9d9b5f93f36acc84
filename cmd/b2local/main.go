// Command b2local serves the B2 native-API emulator on a local port, and
// the S3-compatible API on the same port (path-style addressing).
//
//	b2local [-addr 127.0.0.1:8787] [-data DIR] [-key-id ID] [-key SECRET]
//	        [-fail-rate P] [-fail-codes 503,429] [-latency DURATION] [-token-ttl DURATION]
//	        [-idle-timeout DURATION] [-io-timeout DURATION] [-max-conns N]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr)
}

// serve runs until ctx is cancelled; it returns the exit code.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("b2local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8787", "listen address")
	data := fs.String("data", "", "state directory (default: in memory)")
	keyID := fs.String("key-id", "", "master application key id (default $B2_APPLICATION_KEY_ID or the development pair)")
	key := fs.String("key", "", "master application key (default $B2_APPLICATION_KEY or the development pair)")
	failRate := fs.Float64("fail-rate", 0, "probability (0..1) that an API call fails")
	failCodes := fs.String("fail-codes", "503", "comma-separated HTTP statuses for injected failures")
	latency := fs.Duration("latency", 0, "latency added to every API call")
	tokenTTL := fs.Duration("token-ttl", 24*time.Hour, "lifetime of authorization tokens")
	idle := fs.Duration("idle-timeout", emulator.DefaultIdleTimeout, "close keep-alive connections idle this long")
	ioTimeout := fs.Duration("io-timeout", emulator.DefaultIOTimeout, "longest wait for a client to send request bytes or accept response bytes")
	maxConns := fs.Int("max-conns", 0, "most open client connections; at the cap the longest-idle one is closed (default 3/4 of the descriptor limit)")
	signedPayload := fs.Bool("s3-signed-payload", false, "S3 API: refuse requests whose payload SHA-256 is not signed (UNSIGNED-PAYLOAD, unsigned streaming), as B2 does")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "b2local: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	if *idle <= 0 || *ioTimeout <= 0 || *maxConns < 0 {
		fmt.Fprintln(stderr, "b2local: -idle-timeout and -io-timeout must be positive, -max-conns not negative")
		return 2
	}
	var codes []int
	for _, s := range strings.Split(*failCodes, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintf(stderr, "b2local: -fail-codes: %q is not an HTTP error status\n", s)
			return 2
		}
		codes = append(codes, n)
	}
	if err := emulator.CheckFaults(*failRate, codes, *latency); err != nil {
		fmt.Fprintf(stderr, "b2local: -fail-rate/-fail-codes/-latency: %v\n", err)
		return 2
	}
	id, secret := *keyID, *key
	source := "flags"
	if id == "" && secret == "" {
		id, secret = os.Getenv("B2_APPLICATION_KEY_ID"), os.Getenv("B2_APPLICATION_KEY")
		source = "environment"
	}
	if id == "" && secret == "" {
		id, secret = emulator.DefaultKeyID, emulator.DefaultKey
		source = "development"
	}
	if id == "" || secret == "" {
		fmt.Fprintf(stderr, "b2local: master key id and key must both be set (from %s)\n", source)
		return 2
	}
	srv, err := emulator.NewServer(emulator.Options{
		Dir: *data, MasterKeyID: id, MasterKey: secret, TokenTTL: *tokenTTL,
		FailRate: *failRate, FailCodes: codes, Latency: *latency,
		IdleTimeout: *idle, IOTimeout: *ioTimeout, MaxConns: *maxConns, S3SignedPayload: *signedPayload,
	})
	if err != nil {
		fmt.Fprintf(stderr, "b2local: %v\n", err)
		return 1
	}
	url, err := srv.Start(*addr)
	if err != nil {
		srv.Close()
		fmt.Fprintf(stderr, "b2local: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "b2local listening on %s\n", url)
	fmt.Fprintf(stdout, "S3-compatible API: %s (path-style; access key id = application key id, secret = application key; any region)\n", srv.S3URL())
	if *signedPayload {
		fmt.Fprintln(stdout, "S3 requests must sign their payload's SHA-256 (UNSIGNED-PAYLOAD and unsigned streaming are refused, as on B2)")
	}
	if source == "development" {
		fmt.Fprintf(stdout, "development credentials: B2_APPLICATION_KEY_ID=%s B2_APPLICATION_KEY=%s\n", id, secret)
	} else {
		fmt.Fprintf(stdout, "master key id: %s (key from %s)\n", id, source)
	}
	fmt.Fprintf(stdout, "control endpoints: %s/_b2local/ (stats, faults, expire-tokens; Authorization: Bearer <master application key>)\n", url)
	if *data != "" {
		fmt.Fprintf(stdout, "state directory: %s\n", *data)
	} else {
		fmt.Fprintln(stdout, "state in memory (use -data DIR to persist)")
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "b2local: shutting down")
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "b2local: close: %v\n", err)
		return 1
	}
	return 0
}
