package emulator

import "time"

// SetDiskFault makes the state directory's writes fail at the given stages
// ("commit", "blob") as a full disk would; no stages clears it. For the
// black-box tests of package emulator_test.
func SetDiskFault(s *Server, stages ...string) { setDiskFault(s, stages...) }

// SetNotifyBackoff sets the waits between webhook retries of s (the number
// of retries is len(d)), so tests see suspension quickly.
func SetNotifyBackoff(s *Server, d ...time.Duration) { s.st.notify.backoff.Store(&d) }

// SetNotifyTimeout sets the deadline of each webhook POST of s.
func SetNotifyTimeout(s *Server, d time.Duration) { s.st.notify.timeout.Store(int64(d)) }

// StopReplication stops s's replication worker, so new versions stay
// pending (as when b2local is killed before replicating them).
func StopReplication(s *Server) { s.st.repl.stop() }

// SetRateClock replaces the rate limiter's clock (Options.RateLimit > 0).
func SetRateClock(s *Server, now func() time.Time) { s.limiter.now = now }
