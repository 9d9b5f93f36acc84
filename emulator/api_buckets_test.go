package emulator_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/b2plan/b2plan/emulator"
)

// §5: bucket create/update/list/delete.
func TestAPIBuckets(t *testing.T) {
	_, base, hc := startServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	name := "Alpha-" + bucketName("bkt")
	b := s.createBucket(name, "allPrivate", map[string]any{"bucketInfo": map[string]string{"a": "1"}})
	bid := jstr(b, "bucketId")
	if jstr(b, "bucketName") != name || jstr(b, "bucketType") != "allPrivate" || jstr(b, "accountId") != s.accountID || jstr(b, "bucketInfo", "a") != "1" {
		t.Errorf("bucket object: %v", b)
	}
	for _, f := range []string{"corsRules", "lifecycleRules", "revision", "options", "fileLockConfiguration", "defaultServerSideEncryption"} {
		if _, ok := b[f]; !ok {
			t.Errorf("bucket object missing %q (§5.2)", f)
		}
	}
	if jget(b, "fileLockConfiguration", "isClientAuthorizedToRead") != true {
		t.Errorf("fileLockConfiguration wrapper: %v", b["fileLockConfiguration"])
	}
	rev := jnum(b, "revision")
	if rev < 1 {
		t.Errorf("revision = %d, want >= 1", rev)
	}
	wantErr(t, "duplicate own bucket", s.try("b2_create_bucket", map[string]any{"accountId": s.accountID, "bucketName": name, "bucketType": "allPrivate"}), 400, "duplicate_bucket_name")
	wantErr(t, "duplicate case variant", s.try("b2_create_bucket", map[string]any{"accountId": s.accountID, "bucketName": strings.ToLower(name), "bucketType": "allPrivate"}), 400, "duplicate_bucket_name")
	wantErr(t, "duplicate upper variant", s.try("b2_create_bucket", map[string]any{"accountId": s.accountID, "bucketName": strings.ToUpper(name), "bucketType": "allPublic"}), 400, "duplicate_bucket_name")
	for _, bad := range []string{"short", strings.Repeat("x", 64), "b2-reserved", "under_score", "sp ace", "dot.name"} {
		if r := s.try("b2_create_bucket", map[string]any{"accountId": s.accountID, "bucketName": bad, "bucketType": "allPrivate"}); r.Status != 400 {
			t.Errorf("invalid bucket name %q: %v, want 400 (§5.1)", bad, r)
		}
	}
	if r := s.try("b2_create_bucket", map[string]any{"accountId": s.accountID, "bucketName": bucketName("typ"), "bucketType": "snapshot"}); r.Status != 400 {
		t.Errorf("bucketType snapshot on create: %v, want 400", r)
	}
	if r := s.try("b2_create_bucket", map[string]any{"accountId": s.accountID, "bucketName": strings.Repeat("y", 63), "bucketType": "allPrivate"}); r.Status != 200 {
		t.Errorf("63-char bucket name: %v", r)
	}

	u := s.call("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid, "bucketType": "allPublic", "ifRevisionIs": rev})
	if jnum(u, "revision") != rev+1 || jstr(u, "bucketType") != "allPublic" {
		t.Errorf("update: revision %d (want %d), type %s", jnum(u, "revision"), rev+1, jstr(u, "bucketType"))
	}
	if jstr(u, "bucketInfo", "a") != "1" {
		t.Errorf("omitted fields must stay unchanged: %v", u["bucketInfo"])
	}
	wantErr(t, "stale ifRevisionIs", s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid, "bucketType": "allPrivate", "ifRevisionIs": rev}), 409, "conflict")
	lb := s.call("b2_list_buckets", map[string]any{"accountId": s.accountID, "bucketId": bid})
	if jstr(lb, "buckets", "0", "bucketType") != "allPublic" || jnum(lb, "buckets", "0", "revision") != rev+1 {
		t.Errorf("a 409 must change nothing: %v", lb)
	}
	u2 := s.call("b2_update_bucket", map[string]any{"bucketId": bid, "bucketInfo": map[string]string{"b": "2"}})
	if jnum(u2, "revision") != rev+2 || jget(u2, "bucketInfo", "a") != nil || jstr(u2, "bucketInfo", "b") != "2" {
		t.Errorf("update without accountId / bucketInfo replaced wholesale: %v", u2)
	}
	if r := s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": "000000000000000000000000", "bucketType": "allPublic"}); r.Status != 400 {
		t.Errorf("update unknown bucket: %v, want 400", r)
	}

	// list_buckets: sorted by name, filters.
	second := s.bucket(bucketName("aaa"))
	all := s.call("b2_list_buckets", map[string]any{"accountId": s.accountID})
	var prev string
	for _, x := range jlist(all, "buckets") {
		n := jstr(x, "bucketName")
		if prev != "" && n < prev {
			t.Errorf("list_buckets not sorted by name: %q after %q", n, prev)
		}
		prev = n
	}
	if len(jlist(all, "buckets")) < 3 {
		t.Errorf("list_buckets: %v", all)
	}
	if r := s.call("b2_list_buckets", map[string]any{"accountId": s.accountID, "bucketName": "no-such-bucket-x"}); len(jlist(r, "buckets")) != 0 {
		t.Errorf("filter by absent name must return empty list: %v", r)
	}
	if r := s.call("b2_list_buckets", map[string]any{"accountId": s.accountID, "bucketTypes": []string{"allPublic"}}); len(jlist(r, "buckets")) != 1 {
		t.Errorf("bucketTypes allPublic: %v", r)
	}
	if r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID, "bucketTypes": []string{}}); r.Status != 400 {
		t.Errorf("empty bucketTypes: %v, want 400", r)
	}
	if r := s.try("b2_list_buckets", map[string]any{"accountId": s.accountID, "bucketTypes": []string{"all", "allPublic"}}); r.Status != 400 {
		t.Errorf("all mixed with others: %v, want 400", r)
	}

	// Delete: non-empty refused (including a bucket holding only a hide marker).
	f := s.upload(second, "x", []byte("x"), nil)
	wantErr(t, "delete non-empty", s.try("b2_delete_bucket", map[string]any{"accountId": s.accountID, "bucketId": second}), 400, "cannot_delete_non_empty_bucket")
	h := s.call("b2_hide_file", map[string]any{"bucketId": second, "fileName": "x"})
	s.call("b2_delete_file_version", map[string]any{"fileName": "x", "fileId": jstr(f, "fileId")})
	wantErr(t, "delete bucket with only a hide marker", s.try("b2_delete_bucket", map[string]any{"accountId": s.accountID, "bucketId": second}), 400, "cannot_delete_non_empty_bucket")
	s.call("b2_delete_file_version", map[string]any{"fileName": "x", "fileId": jstr(h, "fileId")})
	lf := s.call("b2_start_large_file", map[string]any{"bucketId": second, "fileName": "lf", "contentType": "b2/x-auto"})
	if r := s.try("b2_delete_bucket", map[string]any{"accountId": s.accountID, "bucketId": second}); r.Status != 400 {
		t.Errorf("delete bucket with an unfinished large file: %v, want 400 (§5.3 [U])", r)
	}
	s.call("b2_cancel_large_file", map[string]any{"fileId": jstr(lf, "fileId")})
	d := s.call("b2_delete_bucket", map[string]any{"accountId": s.accountID, "bucketId": second})
	if jstr(d, "bucketId") != second {
		t.Errorf("delete_bucket response: %v", d)
	}
	wantErr(t, "delete again", s.try("b2_delete_bucket", map[string]any{"accountId": s.accountID, "bucketId": second}), 400, "")
	wantErr(t, "get_upload_url deleted bucket", s.try("b2_get_upload_url", map[string]any{"bucketId": second}), 400, "bad_bucket_id")
	// The freed name can be reused.
	s.createBucket(jstr(d, "bucketName"), "allPrivate", nil)
}

// §5.3 too_many_buckets at 100.
func TestAPITooManyBuckets(t *testing.T) {
	_, base, hc := inProcessServer(t, emulator.Options{})
	s := master(t, hc, base, 4)
	for i := 0; i < 100; i++ {
		s.bucket(bucketName("many"))
	}
	wantErr(t, "101st bucket", s.try("b2_create_bucket", map[string]any{"accountId": s.accountID, "bucketName": bucketName("many"), "bucketType": "allPrivate"}), 400, "too_many_buckets")
}

// §13: Object Lock.
func TestAPIObjectLock(t *testing.T) {
	clock := &fakeClock{}
	_, base, hc := startServer(t, emulator.Options{Now: clock.Now})
	s := master(t, hc, base, 4)
	plainID := s.bucket(bucketName("nolock"))
	bn := bucketName("locked")
	b := s.createBucket(bn, "allPrivate", map[string]any{"fileLockEnabled": true})
	bid := jstr(b, "bucketId")
	if jget(b, "fileLockConfiguration", "value", "isFileLockEnabled") != true {
		t.Fatalf("fileLockEnabled not reported: %v", b["fileLockConfiguration"])
	}
	now := clock.Now().UnixMilli()
	until := strconv.FormatInt(now+int64(24*time.Hour/time.Millisecond), 10)

	// Retention headers on a bucket without lock → 400.
	if r := s.tryUpload(plainID, "x", []byte("x"), map[string]string{"X-Bz-File-Retention-Mode": "governance", "X-Bz-File-Retention-Retain-Until-Timestamp": until}); r.Status != 400 {
		t.Errorf("retention on a non-lock bucket: %v, want 400", r)
	}
	// Only one of the pair → 400.
	if r := s.tryUpload(bid, "x", []byte("x"), map[string]string{"X-Bz-File-Retention-Mode": "governance"}); r.Status != 400 {
		t.Errorf("retention mode without timestamp: %v, want 400", r)
	}

	gov := s.upload(bid, "gov.txt", []byte("g"), map[string]string{"X-Bz-File-Retention-Mode": "governance", "X-Bz-File-Retention-Retain-Until-Timestamp": until})
	if jstr(gov, "fileRetention", "value", "mode") != "governance" || jnum(gov, "fileRetention", "value", "retainUntilTimestamp") != now+int64(24*time.Hour/time.Millisecond) {
		t.Errorf("retention at upload: %v", gov["fileRetention"])
	}
	gid := jstr(gov, "fileId")
	if r := s.try("b2_delete_file_version", map[string]any{"fileName": "gov.txt", "fileId": gid}); r.Status == 200 {
		t.Errorf("delete of governance-locked version without bypass must be refused (§13)")
	}
	// A key with deleteFiles but without bypassGovernance cannot bypass.
	kid, kkey, _ := s.createKey(map[string]any{"capabilities": []string{"listFiles", "readFiles", "writeFiles", "deleteFiles"}})
	ks := login(t, hc, base, 4, kid, kkey)
	if r := ks.try("b2_delete_file_version", map[string]any{"fileName": "gov.txt", "fileId": gid, "bypassGovernance": true}); r.Status == 200 {
		t.Errorf("bypassGovernance without the capability must be refused (§13)")
	}
	if len(s.allVersions(bid, "gov.txt", 10)) != 1 {
		t.Fatalf("refused deletes removed the version")
	}
	// Hiding a locked file is allowed.
	if r := s.try("b2_hide_file", map[string]any{"bucketId": bid, "fileName": "gov.txt"}); r.Status != 200 {
		t.Errorf("hide of a locked file: %v, want 200 (§13 [U])", r)
	}
	s.call("b2_delete_file_version", map[string]any{"fileName": "gov.txt", "fileId": gid, "bypassGovernance": true})

	// Compliance: cannot be shortened or bypassed; can be extended.
	comp := s.upload(bid, "comp.txt", []byte("c"), map[string]string{"X-Bz-File-Retention-Mode": "compliance", "X-Bz-File-Retention-Retain-Until-Timestamp": until})
	cid := jstr(comp, "fileId")
	shorter := now + int64(time.Hour/time.Millisecond)
	longer := now + int64(48*time.Hour/time.Millisecond)
	if r := s.try("b2_update_file_retention", map[string]any{"fileName": "comp.txt", "fileId": cid, "fileRetention": map[string]any{"mode": "compliance", "retainUntilTimestamp": shorter}, "bypassGovernance": true}); r.Status == 200 {
		t.Errorf("shortening compliance retention must be refused (§13)")
	}
	if r := s.try("b2_update_file_retention", map[string]any{"fileName": "comp.txt", "fileId": cid, "fileRetention": map[string]any{"mode": "governance", "retainUntilTimestamp": longer}, "bypassGovernance": true}); r.Status == 200 {
		t.Errorf("downgrading compliance to governance must be refused (§13)")
	}
	ext := s.try("b2_update_file_retention", map[string]any{"fileName": "comp.txt", "fileId": cid, "fileRetention": map[string]any{"mode": "compliance", "retainUntilTimestamp": longer}})
	if ext.Status != 200 {
		t.Errorf("extending compliance retention: %v", ext)
	}
	if r := s.try("b2_delete_file_version", map[string]any{"fileName": "comp.txt", "fileId": cid, "bypassGovernance": true}); r.Status == 200 {
		t.Errorf("compliance-locked version deleted with bypass (§13)")
	}
	gi := s.call("b2_get_file_info", map[string]any{"fileId": cid})
	if jnum(gi, "fileRetention", "value", "retainUntilTimestamp") != longer {
		t.Errorf("retention after extension: %v", gi["fileRetention"])
	}
	// Governance shortened: needs bypass + capability.
	g2 := s.upload(bid, "gov2.txt", []byte("g"), map[string]string{"X-Bz-File-Retention-Mode": "governance", "X-Bz-File-Retention-Retain-Until-Timestamp": until})
	if r := s.try("b2_update_file_retention", map[string]any{"fileName": "gov2.txt", "fileId": jstr(g2, "fileId"), "fileRetention": map[string]any{"mode": nil, "retainUntilTimestamp": nil}}); r.Status == 200 {
		t.Errorf("removing governance retention without bypassGovernance must be refused")
	}
	if r := s.try("b2_update_file_retention", map[string]any{"fileName": "gov2.txt", "fileId": jstr(g2, "fileId"), "fileRetention": map[string]any{"mode": nil, "retainUntilTimestamp": nil}, "bypassGovernance": true}); r.Status != 200 {
		t.Errorf("removing governance retention with bypass: %v", r)
	}
	s.call("b2_delete_file_version", map[string]any{"fileName": "gov2.txt", "fileId": jstr(g2, "fileId")})
	// Retention lapses with time.
	clock.Advance(72 * time.Hour)
	s = master(t, hc, base, 4) // the old token expired with the clock
	if r := s.try("b2_delete_file_version", map[string]any{"fileName": "comp.txt", "fileId": cid}); r.Status != 200 {
		t.Errorf("delete after compliance retention expired: %v", r)
	}

	// Legal hold blocks delete until switched off.
	lh := s.upload(bid, "hold.txt", []byte("h"), map[string]string{"X-Bz-File-Legal-Hold": "on"})
	if jget(lh, "legalHold", "value") != "on" {
		t.Errorf("legal hold at upload: %v", lh["legalHold"])
	}
	if r := s.try("b2_delete_file_version", map[string]any{"fileName": "hold.txt", "fileId": jstr(lh, "fileId"), "bypassGovernance": true}); r.Status == 200 {
		t.Errorf("delete under legal hold must be refused (§13)")
	}
	s.call("b2_update_file_legal_hold", map[string]any{"fileName": "hold.txt", "fileId": jstr(lh, "fileId"), "legalHold": "off"})
	if r := s.try("b2_delete_file_version", map[string]any{"fileName": "hold.txt", "fileId": jstr(lh, "fileId")}); r.Status != 200 {
		t.Errorf("delete after legal hold off: %v", r)
	}

	// Default retention applies to uploads and copies.
	now = clock.Now().UnixMilli()
	ub := s.call("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid, "defaultRetention": map[string]any{"mode": "governance", "period": map[string]any{"duration": 1, "unit": "days"}}})
	if jstr(ub, "fileLockConfiguration", "value", "defaultRetention", "mode") != "governance" {
		t.Errorf("defaultRetention not reported: %v", ub["fileLockConfiguration"])
	}
	d := s.upload(bid, "default.txt", []byte("d"), nil)
	rt := jnum(d, "fileRetention", "value", "retainUntilTimestamp")
	if jstr(d, "fileRetention", "value", "mode") != "governance" || rt < now+int64(23*time.Hour/time.Millisecond) || rt > now+int64(25*time.Hour/time.Millisecond) {
		t.Errorf("default retention at upload: %v", d["fileRetention"])
	}
	src := s.upload(plainID, "src.txt", []byte("s"), nil)
	cp := s.call("b2_copy_file", map[string]any{"sourceFileId": jstr(src, "fileId"), "fileName": "copied.txt", "destinationBucketId": bid})
	if jstr(cp, "fileRetention", "value", "mode") != "governance" {
		t.Errorf("default retention at copy: %v", cp["fileRetention"])
	}
	// Explicit retention at copy.
	cuntil := now + int64(5*24*time.Hour/time.Millisecond)
	cp2 := s.call("b2_copy_file", map[string]any{"sourceFileId": jstr(src, "fileId"), "fileName": "copied2.txt", "destinationBucketId": bid,
		"fileRetention": map[string]any{"mode": "compliance", "retainUntilTimestamp": cuntil}, "legalHold": "on"})
	if jstr(cp2, "fileRetention", "value", "mode") != "compliance" || jnum(cp2, "fileRetention", "value", "retainUntilTimestamp") != cuntil || jget(cp2, "legalHold", "value") != "on" {
		t.Errorf("retention/legal hold at copy: %v %v", cp2["fileRetention"], cp2["legalHold"])
	}
	// Locked versions make the bucket undeletable.
	if r := s.try("b2_delete_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid}); r.Status == 200 {
		t.Errorf("bucket with locked versions deleted")
	}
	// Lock can never be disabled; lock on an existing bucket can be enabled once.
	if r := s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bid, "fileLockEnabled": false}); r.Status == 200 {
		t.Errorf("disabling file lock must be refused (§13)")
	}
	if r := s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": plainID, "fileLockEnabled": true}); r.Status != 200 {
		t.Errorf("enabling file lock on an existing bucket: %v", r)
	}
	// Responses filter retention for keys without readFileRetentions.
	k2, s2key, _ := s.createKey(map[string]any{"capabilities": []string{"listFiles", "readFiles"}})
	rs := login(t, hc, base, 4, k2, s2key)
	gi = rs.call("b2_get_file_info", map[string]any{"fileId": jstr(d, "fileId")})
	if jget(gi, "fileRetention", "isClientAuthorizedToRead") != false || jget(gi, "fileRetention", "value") != nil {
		t.Errorf("fileRetention must be filtered without readFileRetentions: %v", gi["fileRetention"])
	}
}
