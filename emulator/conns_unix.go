//go:build unix

package emulator

import "syscall"

// defaultMaxConns leaves a quarter of the descriptor limit to the store and
// everything else the process opens.
func defaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 || rl.Cur > 1<<20 {
		return 4096
	}
	return max(int(rl.Cur)*3/4, 16)
}
