package emulator

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The emulated clock: Options.Now plus an offset that only grows.
// POST /_b2local/clock {"advance":"72h"} moves it forward; everything that
// reads the time (upload timestamps, token and key expiry, retention,
// lifecycle) sees the advanced clock. The offset is persisted with the
// state, so an advanced b2local stays advanced across restarts. Advancing
// runs the lifecycle rules once per emulated day passed (B2 runs them about
// daily), so a rule's hide and its later delete both happen within one
// advance of several days.

// maxAdvance bounds one advance.
const maxAdvance = 100 * 365 * 24 * time.Hour

var metaClock = []byte("clockOffset")

// initClock makes st.opts.Now the emulated clock; st.wall stays the
// clock without the offset, for what clients stamp with their own clocks
// (SigV4 request dates and presigned URL lifetimes), so advancing does not
// make S3 requests look skewed or expired.
func (st *store) initClock() {
	base := st.opts.Now
	if base == nil {
		base = time.Now
	}
	st.opts.Now = func() time.Time { return base().Add(time.Duration(st.clockOff.Load())) }
	st.wall = base
}

// advanceClock moves the clock forward by d, one day at a time (at most
// 1000 steps), running the lifecycle after each step.
func (st *store) advanceClock(d time.Duration) (lifecycleStats, error) {
	var total lifecycleStats
	step := 24 * time.Hour
	if d/step > 1000 {
		step = d / 1000
	}
	for d > 0 {
		s := min(step, d)
		err := st.mutate(func(tx *txn) error {
			old := st.clockOff.Load()
			st.clockOff.Store(old + int64(s))
			if tx.disk() {
				tx.ops = append(tx.ops, dbOp{bkt: bktMeta, key: metaClock, val: binary.BigEndian.AppendUint64(nil, uint64(old+int64(s)))})
			}
			tx.onUndo(func() { st.clockOff.Store(old) })
			return nil
		})
		if err != nil {
			return total, err
		}
		d -= s
		ls, err := st.runLifecycle()
		total.add(ls)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// loadClock reads the persisted clock offset.
func (p *persister) loadClock(tx *bolt.Tx, st *store) {
	if v := tx.Bucket(bktMeta).Get(metaClock); len(v) == 8 {
		st.clockOff.Store(int64(binary.BigEndian.Uint64(v)))
	}
}

// parseAdvance reads a duration: Go's syntax ("90m", "72h") or whole days
// ("3d").
func parseAdvance(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int64
		days, err = strconv.ParseInt(n, 10, 64)
		if days > int64(maxAdvance/(24*time.Hour)) {
			days = -1
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 || d > maxAdvance {
		return 0, fmt.Errorf(`advance %q must be a positive duration of at most 100 years, like "90m", "72h" or "3d" (the clock never goes back)`, s)
	}
	return d, nil
}

// serveClock is /_b2local/clock: GET tells the emulated time, POST
// {"advance": "72h"} moves it forward and runs the lifecycle.
func (s *Server) serveClock(w http.ResponseWriter, r *http.Request) {
	st := s.st
	reply := func(ls *lifecycleStats) {
		m := map[string]any{"now": st.nowMs(), "offsetMs": time.Duration(st.clockOff.Load()).Milliseconds()}
		if ls != nil {
			m["lifecycle"] = ls
		}
		writeJSON(w, 200, m)
	}
	switch r.Method {
	case http.MethodGet:
		reply(nil)
		return
	case http.MethodPost:
	default:
		writeError(w, r, errMethod(r.Method))
		return
	}
	var req struct {
		Advance string `json:"advance"`
	}
	if err := readControlJSON(w, r, &req, `{"advance": "<duration>"}, e.g. {"advance": "72h"}`); err != nil {
		writeError(w, r, err)
		return
	}
	d, err := parseAdvance(req.Advance)
	if err != nil {
		writeError(w, r, errBadRequest(err.Error()))
		return
	}
	ls, err := st.advanceClock(d)
	if err != nil {
		writeError(w, r, err)
		return
	}
	reply(&ls)
}
