package emulator_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/b2plan/b2plan/emulator"
)

// A change whose commit fails (full disk) is neither notified nor
// replicated; once writes succeed again, the next change is, and a
// replication that could not be committed is retried.
func TestEventsOnlyAfterCommit(t *testing.T) {
	s, base, hc := startServer(t, emulator.Options{Dir: t.TempDir()})
	h := newHookReceiver(t, hookSecret)
	m := master(t, hc, base, 3)
	bid := m.bucket(bucketName("commit"))
	m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": []any{
		hookRule("commitWatch", h.srv.URL, "", "b2:ObjectCreated:*", "b2:HideMarkerCreated:*"),
	}})
	m.upload(bid, "kept.txt", []byte("kept"), nil)
	h.waitEvents(1)
	emulator.SetDiskFault(s, "commit")
	if r := m.tryUpload(bid, "lost.txt", []byte("lost"), nil); r.Status != 503 {
		t.Fatalf("upload on a full disk: %v", r)
	}
	if r := m.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "kept.txt"}); r.Status != 503 {
		t.Fatalf("hide on a full disk: %v", r)
	}
	emulator.SetDiskFault(s)
	m.upload(bid, "after.txt", []byte("after"), nil)
	evs := h.waitEvents(2)
	time.Sleep(100 * time.Millisecond)
	h.mu.Lock()
	n := len(h.events)
	h.mu.Unlock()
	if n != 2 || evs[1]["objectName"] != "after.txt" {
		t.Errorf("events after a failed commit: %v", h.events)
	}
}

// Finishing a large file notifies b2:ObjectCreated:MultipartUpload; its
// replica is a b2:ObjectCreated:MultipartReplica with the same bytes.
func TestLargeFileEventAndReplica(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{AbsoluteMinimumPartSize: 5, RecommendedPartSize: 5})
	h := newHookReceiver(t, hookSecret)
	m := master(t, hc, base, 3)
	src, dst := m.bucket(bucketName("lsrc")), m.bucket(bucketName("ldst"))
	srcKey, _, _ := m.createKey(map[string]any{"capabilities": []string{"readFiles"}})
	dstKey, _, _ := m.createKey(map[string]any{"capabilities": []string{"writeFiles"}})
	for id, cfg := range map[string]any{
		dst: map[string]any{"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": map[string]any{srcKey: dstKey}}},
		src: map[string]any{"asReplicationSource": map[string]any{"sourceApplicationKeyId": srcKey, "replicationRules": []any{replRule("big-files", dst, "", 1, false)}}},
	} {
		m.call("b2_update_bucket", map[string]any{"accountId": m.accountID, "bucketId": id, "replicationConfiguration": cfg})
	}
	for _, id := range []string{src, dst} {
		m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": id, "eventNotificationRules": []any{
			hookRule("largeWatch", h.srv.URL, "", "b2:ObjectCreated:*"),
		}})
	}
	lf := m.call("b2_start_large_file", map[string]any{"bucketId": src, "fileName": "big.bin", "contentType": "application/octet-stream"})
	fid := jstr(lf, "fileId")
	parts := [][]byte{bytes.Repeat([]byte("a"), 700), bytes.Repeat([]byte("b"), 300)}
	var shas []string
	for i, p := range parts {
		u := m.call("b2_get_upload_part_url", map[string]any{"fileId": fid})
		req, _ := http.NewRequest("POST", jstr(u, "uploadUrl"), bytes.NewReader(p))
		req.Header.Set("Authorization", jstr(u, "authorizationToken"))
		req.Header.Set("X-Bz-Part-Number", strconv.Itoa(i+1))
		req.Header.Set("X-Bz-Content-Sha1", sha1hex(p))
		if r, err := doReq(hc, req); err != nil || r.Status != 200 {
			t.Fatalf("part %d: %v %v", i+1, r, err)
		}
		shas = append(shas, sha1hex(p))
	}
	fin := m.call("b2_finish_large_file", map[string]any{"fileId": fid, "partSha1Array": shas})
	if jstr(fin, "replicationStatus") != "pending" {
		t.Errorf("finished large file: replicationStatus %q", jstr(fin, "replicationStatus"))
	}
	waitStatus(t, m, fid, "completed")
	got := map[string]string{}
	for _, e := range h.waitEvents(2) {
		got[jstr(e, "eventType")] = jstr(e, "bucketId")
	}
	if got["b2:ObjectCreated:MultipartUpload"] != src || got["b2:ObjectCreated:MultipartReplica"] != dst {
		t.Errorf("events: %v", got)
	}
	files := jlist(m.call("b2_list_file_names", map[string]any{"bucketId": dst}), "files")
	if len(files) != 1 {
		t.Fatalf("destination: %v", files)
	}
	dn := m.byID(jstr(files[0], "fileId"))
	if !bytes.Equal(dn.Raw, append(append([]byte{}, parts[0]...), parts[1]...)) || jstr(files[0], "replicationStatus") != "replica" {
		t.Errorf("replica of the large file: %d bytes, %v", len(dn.Raw), files[0])
	}
}

// S3 DeleteObjects hides several keys in one commit: their events reach
// the webhook batched up to the rule's maxEventsPerBatch.
func TestS3DeleteObjectsEventsBatched(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{})
	h := newHookReceiver(t, hookSecret)
	m := master(t, hc, base, 3)
	bn := bucketName("batch")
	bid := m.bucket(bn)
	rule := hookRule("batchWatch", h.srv.URL, "", "b2:HideMarkerCreated:*")
	rule["maxEventsPerBatch"] = 2
	m.call("b2_set_bucket_notification_rules", map[string]any{"bucketId": bid, "eventNotificationRules": []any{rule}})
	c := s3Master(srv, hc)
	var ids []types.ObjectIdentifier
	for _, k := range []string{"a", "b", "c"} {
		putS3(t, c, bn, k, []byte(k))
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	if _, err := c.DeleteObjects(context.Background(), &s3.DeleteObjectsInput{Bucket: aws.String(bn), Delete: &types.Delete{Objects: ids}}); err != nil {
		t.Fatal(err)
	}
	evs := h.waitEvents(3)
	time.Sleep(100 * time.Millisecond)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.posts != 2 || len(h.events) != 3 || h.badSig != 0 {
		t.Errorf("%d posts carrying %d events (%d badly signed), want 2 posts (batches of at most 2) with 3 events", h.posts, len(h.events), h.badSig)
	}
	for _, e := range evs {
		if jstr(e, "eventType") != "b2:HideMarkerCreated:Hide" {
			t.Errorf("event %v", e)
		}
	}
}
