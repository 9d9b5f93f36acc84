package emulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Delivery of event notifications. Committed events are matched against
// the bucket's enabled, unsuspended rules and queued (bounded: when the
// queue is full the event is dropped and logged, never blocking an API
// call); a few workers POST B2's payload to the webhook, each POST with a
// deadline, retried with backoff. A rule whose webhook still fails after
// the last retry is suspended (isSuspended, suspensionReason), as B2 does;
// sending the rule again with b2_set_bucket_notification_rules resumes it.

const (
	notifyQueueLen = 10000
	notifyWorkers  = 4
	notifyTimeout  = 10 * time.Second // per POST
)

// defaultNotifyBackoff is the wait before each retry: five retries, about
// half a minute in all.
var defaultNotifyBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}

type notifier struct {
	once    sync.Once
	queue   chan *delivery
	done    chan struct{}
	wg      sync.WaitGroup
	client  *http.Client
	backoff atomic.Pointer[[]time.Duration]
	timeout atomic.Int64 // per POST (tests); 0: notifyTimeout
	dropped atomic.Int64
}

// delivery is one POST: events of one rule.
type delivery struct {
	bucketID string
	rule     notifyRule
	events   []payloadEvent
}

// payloadEvent is one entry of B2's webhook body {"events": [...]}.
type payloadEvent struct {
	AccountID       string `json:"accountId"`
	BucketID        string `json:"bucketId"`
	BucketName      string `json:"bucketName"`
	EventID         string `json:"eventId"`
	EventTimestamp  int64  `json:"eventTimestamp"`
	EventType       string `json:"eventType"`
	EventVersion    int    `json:"eventVersion"`
	MatchedRuleName string `json:"matchedRuleName"`
	ObjectName      string `json:"objectName"`
	ObjectSize      *int64 `json:"objectSize"`
	ObjectVersionID string `json:"objectVersionId"`
}

func (n *notifier) start(st *store) {
	n.once.Do(func() {
		n.queue = make(chan *delivery, notifyQueueLen)
		n.done = make(chan struct{})
		n.client = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		for i := 0; i < notifyWorkers; i++ {
			n.wg.Add(1)
			go n.work(st)
		}
	})
}

// stop ends the workers; queued deliveries are abandoned.
func (n *notifier) stop() {
	n.once.Do(func() { n.done = make(chan struct{}) }) // never start after stopping
	select {
	case <-n.done:
	default:
		close(n.done)
	}
	n.wg.Wait()
	if n.client != nil {
		n.client.CloseIdleConnections()
	}
}

// notifyEvents queues the deliveries evs call for.
func (st *store) notifyEvents(evs []storeEvent) {
	var ds []*delivery
	_ = st.read(func() error {
		for i := range evs {
			ev := &evs[i]
			b := st.buckets[ev.bucketID]
			if b == nil || len(b.ext.notify) == 0 {
				continue
			}
			for _, r := range b.ext.notify {
				if !r.IsEnabled || r.IsSuspended || !strings.HasPrefix(ev.name, r.ObjectNamePrefix) || !r.matches(ev.typ) {
					continue
				}
				pe := payloadEvent{AccountID: b.Account, BucketID: b.ID, BucketName: b.Name, EventID: randHex(16),
					EventTimestamp: ev.ts, EventType: ev.typ, EventVersion: 1, MatchedRuleName: r.Name,
					ObjectName: ev.name, ObjectVersionID: fileIDString(b.ID, ev.v.id, ev.v.ts)}
				size := ev.v.size
				pe.ObjectSize = &size
				// batch with the previous delivery of the same rule (maxEventsPerBatch)
				if k := len(ds) - 1; k >= 0 && ds[k].bucketID == b.ID && ds[k].rule.Name == r.Name && len(ds[k].events) < max(r.MaxEventsPerBatch, 1) {
					ds[k].events = append(ds[k].events, pe)
					continue
				}
				ds = append(ds, &delivery{bucketID: b.ID, rule: r, events: []payloadEvent{pe}})
			}
		}
		return nil
	})
	if len(ds) == 0 {
		return
	}
	n := &st.notify
	n.start(st)
	for _, d := range ds {
		select {
		case <-n.done:
			return
		case n.queue <- d:
		default:
			if c := n.dropped.Add(1); c&(c-1) == 0 { // log the 1st, 2nd, 4th, 8th … drop
				st.logf("b2local: event notification queue is full (%d deliveries); %d dropped so far, the last of rule %q", notifyQueueLen, c, d.rule.Name)
			}
		}
	}
}

func (n *notifier) work(st *store) {
	defer n.wg.Done()
	for {
		select {
		case <-n.done:
			return
		case d := <-n.queue:
			n.deliver(st, d)
		}
	}
}

// deliver POSTs d, retrying with backoff; after the last retry fails the
// rule is suspended.
func (n *notifier) deliver(st *store, d *delivery) {
	body, _ := json.Marshal(map[string]any{"events": d.events})
	backoff := defaultNotifyBackoff
	if b := n.backoff.Load(); b != nil {
		backoff = *b
	}
	reason := ""
	for attempt := 0; ; attempt++ {
		if !st.ruleActive(d.bucketID, &d.rule) {
			return // removed, changed, disabled or suspended meanwhile
		}
		var ok bool
		if ok, reason = n.post(d, body); ok {
			return
		}
		select {
		case <-n.done:
			return // shutting down: not the webhook's fault
		default:
		}
		if attempt >= len(backoff) {
			break
		}
		t := time.NewTimer(backoff[attempt])
		select {
		case <-n.done:
			t.Stop()
			return
		case <-t.C:
		}
	}
	reason = fmt.Sprintf("%s (%d attempts)", reason, len(backoff)+1)
	if err := st.suspendRule(d.bucketID, &d.rule, reason); err != nil {
		st.logf("b2local: could not record the suspension of rule %q: %v", d.rule.Name, err)
	}
	st.logf("b2local: event notification rule %q of bucket %s suspended: %s", d.rule.Name, d.bucketID, reason)
}

// post sends one delivery; ok is a 2xx answer, else reason says why not.
func (n *notifier) post(d *delivery, body []byte) (ok bool, reason string) {
	limit := notifyTimeout
	if t := n.timeout.Load(); t > 0 {
		limit = time.Duration(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	go func() {
		select {
		case <-n.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.rule.Target.URL, bytes.NewReader(body))
	if err != nil {
		return false, "bad webhook URL"
	}
	for _, h := range d.rule.Target.CustomHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "B2/EventNotifications (b2local)")
	if s := d.rule.Target.Secret; s != nil {
		req.Header.Set("X-Bz-Event-Notification-Signature", signPayload(*s, body))
	}
	res, err := n.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return false, fmt.Sprintf("webhook did not answer within %v", limit)
		}
		return false, "webhook unreachable: " + strings.TrimPrefix(err.Error(), "Post ")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return false, errNotifyHTTP(res)
	}
	return true, ""
}

// signPayload is B2's signature header value: "v1=" and the lower-case hex
// HMAC-SHA256 of the body, keyed with the rule's secret as given.
func signPayload(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// ruleActive reports whether rule r of bucket id is still set, enabled and
// not suspended, with the same target.
func (st *store) ruleActive(id string, r *notifyRule) bool {
	active := false
	_ = st.read(func() error {
		if b := st.buckets[id]; b != nil {
			for _, x := range b.ext.notify {
				if x.Name == r.Name && x.Target.URL == r.Target.URL && x.IsEnabled && !x.IsSuspended {
					active = true
				}
			}
		}
		return nil
	})
	return active
}

// logf logs a background event (Options.Logf, else the standard logger).
func (st *store) logf(format string, args ...any) {
	if st.opts.Logf != nil {
		st.opts.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}
