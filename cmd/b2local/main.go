// Command b2local serves the B2 native-API emulator on a local port, and
// the S3-compatible API on the same port (path-style addressing).
//
//	b2local [-addr 127.0.0.1:8787] [-data DIR] [-key-id ID] [-key SECRET]
//	        [-fail-rate P] [-fail-codes 503,429] [-latency DURATION] [-token-ttl DURATION]
//	        [-idle-timeout DURATION] [-io-timeout DURATION] [-max-conns N]
//	        [-rate-limit N] [-max-copy-size BYTES] [-absolute-min-part-size BYTES]
//	        [-recommended-part-size BYTES] [-account KEY_ID:KEY]...
package main

import (
	"context"
	"errors"
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
	rateLimit := fs.Float64("rate-limit", 0, "API requests per second per account; beyond it 429 too_many_requests (S3: 503 SlowDown) with Retry-After (0 = unlimited)")
	maxCopy := fs.Int64("max-copy-size", 0, "largest b2_copy_file / S3 CopyObject result in bytes (0 = B2's 5,000,000,000)")
	minPart := fs.Int64("absolute-min-part-size", 0, "smallest large-file part but the last, in bytes (0 = B2's 5,000,000)")
	recPart := fs.Int64("recommended-part-size", 0, "recommendedPartSize reported by b2_authorize_account, in bytes (0 = B2's 100,000,000)")
	var accountFlags accountList
	fs.Var(&accountFlags, "account", "an account as KEY_ID:KEY, repeatable; the first is the default account (instead of -key-id/-key); each has its own buckets and keys, bucket names are unique across all")
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
	if *rateLimit < 0 || *maxCopy < 0 || *minPart < 0 || *recPart < 0 {
		fmt.Fprintln(stderr, "b2local: -rate-limit, -max-copy-size, -absolute-min-part-size and -recommended-part-size must not be negative")
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
	accounts, err := accountFlags.parse()
	if err != nil {
		fmt.Fprintf(stderr, "b2local: %v\n", err)
		return 2
	}
	id, secret := *keyID, *key
	source := "flags"
	if len(accounts) > 0 {
		if id != "" || secret != "" {
			fmt.Fprintln(stderr, "b2local: give the default account either with -key-id/-key or as the first -account, not both")
			return 2
		}
		id, secret = accounts[0].KeyID, accounts[0].Key
		accounts = accounts[1:]
	}
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
		IdleTimeout: *idle, IOTimeout: *ioTimeout, MaxConns: *maxConns,
		Accounts: accounts, RateLimit: *rateLimit, MaxCopySize: *maxCopy, AbsoluteMinimumPartSize: *minPart, RecommendedPartSize: *recPart, S3SignedPayload: *signedPayload,
	})
	if errors.Is(err, emulator.ErrBadLimits) {
		fmt.Fprintf(stderr, "b2local: %v\n", err)
		return 2
	}
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
	for _, a := range accounts {
		fmt.Fprintf(stdout, "further account: %s\n", a.KeyID)
	}
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

// accountList collects repeated -account KEY_ID:KEY flags. Set accepts
// anything; parse checks them afterwards, so that a malformed value (which
// may be a bare secret) is never echoed as the flag package would.
type accountList []string

func (l *accountList) String() string     { return fmt.Sprintf("%d accounts", len(*l)) }
func (l *accountList) Set(v string) error { *l = append(*l, v); return nil }

func (l accountList) parse() ([]emulator.Account, error) {
	var out []emulator.Account
	seen := map[string]bool{}
	for i, v := range l {
		id, key, ok := strings.Cut(v, ":")
		if !ok || id == "" || key == "" {
			return nil, fmt.Errorf("-account #%d: want KEY_ID:KEY", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("-account: %s is given twice", id)
		}
		seen[id] = true
		out = append(out, emulator.Account{KeyID: id, Key: key})
	}
	return out, nil
}
