package emulator

import "time"

// SetDiskFault makes the state directory's writes fail at the given stages
// ("commit", "blob") as a full disk would; no stages clears it. For the
// black-box tests of package emulator_test.
func SetDiskFault(s *Server, stages ...string) { setDiskFault(s, stages...) }

// SetRateClock replaces the rate limiter's clock (Options.RateLimit > 0).
func SetRateClock(s *Server, now func() time.Time) { s.limiter.now = now }
