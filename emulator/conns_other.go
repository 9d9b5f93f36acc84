//go:build !unix

package emulator

func defaultMaxConns() int { return 4096 }
