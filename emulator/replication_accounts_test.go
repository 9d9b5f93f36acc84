package emulator_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/b2plan/b2plan/emulator"
)

// Replication across two accounts, as B2 documents it: account A owns the
// source bucket and the source key (readFiles); account B owns the
// destination bucket and the destination key (writeFiles) and maps A's key
// to its own; A's rule names B's bucket id. The replica lands in B's bucket
// (B's account, status "replica", the same bytes, read back by B and
// compared with the SHA-1 computed while seeding) and the source goes
// "completed". Keys of the wrong account are refused in either part of the
// configuration; a destination whose mapping does not cover the source key,
// whose key was deleted or has expired, or which was never configured,
// leaves the source "failed" and no replica, as does a deleted source key.
// Replication both ways between the accounts does not loop. Neither
// account reads the other's bucket.
func TestReplicationAcrossAccounts(t *testing.T) {
	clk := &fakeClock{}
	srv, base, hc := startServer(t, emulator.Options{Now: clk.Now,
		Accounts: []emulator.Account{{KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey}, {KeyID: acct2ID, Key: acct2Key}}})
	a := master(t, hc, base, 3)
	b := login(t, hc, base, 3, acct2ID, acct2Key)

	srcName := bucketName("xsrc")
	src := a.bucket(srcName)
	srcKey, _, _ := a.createKey(map[string]any{"keyName": "a-source", "capabilities": []string{"readFiles"}, "bucketId": src})
	otherAKey, _, _ := a.createKey(map[string]any{"keyName": "a-other", "capabilities": []string{"readFiles", "writeFiles"}})

	// B's destinations: one good, and one per way replication must fail.
	dstName := bucketName("xdst")
	dst := b.bucket(dstName)
	wrongMap, gone, expiring, unconfigured := b.bucket(bucketName("xwrongmap")), b.bucket(bucketName("xgone")), b.bucket(bucketName("xexpiring")), b.bucket(bucketName("xnocfg"))
	writerKey := func(bucket string, extra map[string]any) (id, secret string) {
		body := map[string]any{"keyName": "b-dest", "capabilities": []string{"writeFiles"}, "bucketId": bucket}
		for k, v := range extra {
			body[k] = v
		}
		id, secret, _ = b.createKey(body)
		return id, secret
	}
	writer := func(bucket string, extra map[string]any) string { id, _ := writerKey(bucket, extra); return id }
	dstKey, dstSecret := writerKey(dst, nil)
	goneKey := writer(gone, nil)
	expiringKey := writer(expiring, map[string]any{"validDurationInSeconds": 3600})
	bReader, bReaderSecret, _ := b.createKey(map[string]any{"keyName": "b-reader", "capabilities": []string{"listBuckets", "listFiles", "readFiles"}})

	mapping := func(s *sess, bucket string, m map[string]any) resp {
		return s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bucket, "replicationConfiguration": map[string]any{
			"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": m}}})
	}
	source := func(s *sess, bucket, key string, rules ...any) resp {
		return s.try("b2_update_bucket", map[string]any{"accountId": s.accountID, "bucketId": bucket, "replicationConfiguration": map[string]any{
			"asReplicationSource": map[string]any{"sourceApplicationKeyId": key, "replicationRules": rules}}})
	}

	// Keys of the wrong account are refused, in either part.
	wantErr(t, "B maps A's source key to a key of account A", mapping(b, dst, map[string]any{srcKey: otherAKey}), 400, "bad_request")
	wantErr(t, "B maps A's source key to A's master key", mapping(b, dst, map[string]any{srcKey: emulator.DefaultKeyID}), 400, "bad_request")
	wantErr(t, "A sets the destination mapping on B's bucket", mapping(a, dst, map[string]any{srcKey: otherAKey}), 400, "bad_bucket_id")
	wantErr(t, "A uses B's unrestricted reading key as its source key", source(a, src, bReader, replRule("all", dst, "", 1, false)), 400, "bad_request")
	wantErr(t, "B replicates from A's bucket", source(b, src, dstKey, replRule("all", dst, "", 1, false)), 400, "bad_bucket_id")

	for bucket, m := range map[string]map[string]any{
		dst:      {srcKey: dstKey},
		wrongMap: {otherAKey: writer(wrongMap, nil)}, // maps another A key, not the source key
		gone:     {srcKey: goneKey},
		expiring: {srcKey: expiringKey},
	} {
		if r := mapping(b, bucket, m); r.Status != 200 {
			t.Fatalf("destination config of %s: %v", bucket, r)
		}
	}
	r := source(a, src, srcKey,
		replRule("all", dst, "", 1, false),
		replRule("wrongmap", wrongMap, "wrongmap/", 5, false),
		replRule("gone", gone, "gone/", 5, false),
		replRule("expired", expiring, "expired/", 5, false),
		replRule("nocfg", unconfigured, "nocfg/", 5, false))
	if r.Status != 200 {
		t.Fatalf("source config naming B's buckets: %v", r)
	}

	// The good path: seeded bytes and their SHA-1, computed here.
	data := make([]byte, 64<<10)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	h := sha1.Sum(data)
	want := hex.EncodeToString(h[:])
	up := a.upload(src, "docs/report.bin", data, map[string]string{"X-Bz-Info-Owner": "a"})
	if s := jstr(up, "replicationStatus"); s != "pending" {
		t.Errorf("new upload: replicationStatus %q, want pending", s)
	}
	waitStatus(t, a, jstr(up, "fileId"), "completed")

	rd := login(t, hc, base, 3, bReader, bReaderSecret)
	fs := jlist(rd.call("b2_list_file_versions", map[string]any{"bucketId": dst}), "files")
	if len(fs) != 1 {
		t.Fatalf("B's destination holds %v, want the one replica", fs)
	}
	rep := fs[0]
	if jstr(rep, "fileName") != "docs/report.bin" || jstr(rep, "replicationStatus") != "replica" || jstr(rep, "contentSha1") != want ||
		jstr(rep, "accountId") != acct2ID || jstr(rep, "bucketId") != dst || jstr(rep, "fileInfo", "owner") != "a" {
		t.Errorf("replica as B lists it: %s", jsonOf(rep))
	}
	for how, d := range map[string]resp{"by id": rd.byID(jstr(rep, "fileId")), "by name": rd.byName(dstName, "docs/report.bin")} {
		got := sha1.Sum(d.Raw)
		if d.Status != 200 || hex.EncodeToString(got[:]) != want || d.Header.Get("X-Bz-Replication-Status") != "replica" {
			t.Errorf("B downloads the replica %s: %d, sha1 %x (want %s), status header %q", how, d.Status, got, want, d.Header.Get("X-Bz-Replication-Status"))
		}
	}
	if sh := a.byID(jstr(up, "fileId")).Header.Get("X-Bz-Replication-Status"); sh != "completed" {
		t.Errorf("source download X-Bz-Replication-Status %q", sh)
	}
	ho, err := s3For(srv, hc, bReader, bReaderSecret).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(dstName), Key: aws.String("docs/report.bin")})
	if err != nil || ho.ReplicationStatus != "REPLICA" || aws.ToInt64(ho.ContentLength) != int64(len(data)) {
		t.Errorf("B's S3 HEAD of the replica: %v %v", ho, err)
	}
	_, err = s3For(srv, hc, bReader, bReaderSecret).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(srcName), Key: aws.String("docs/report.bin")})
	if err == nil {
		t.Errorf("B's S3 HEAD of A's source succeeded")
	}

	// Failures: each leaves the source "failed" and its destination empty.
	if r := b.try("b2_delete_key", map[string]any{"applicationKeyId": goneKey}); r.Status != 200 {
		t.Fatalf("deleting B's destination key: %v", r)
	}
	clk.Advance(2 * time.Hour) // expiringKey is now expired
	failing := map[string]string{"wrongmap/x": wrongMap, "gone/x": gone, "expired/x": expiring, "nocfg/x": unconfigured}
	for name := range failing {
		up := a.upload(src, name, []byte("must not reach B: "+name), nil)
		waitStatus(t, a, jstr(up, "fileId"), "failed")
	}
	for name, bucket := range failing {
		if l := jlist(b.call("b2_list_file_versions", map[string]any{"bucketId": bucket}), "files"); len(l) != 0 {
			t.Errorf("%s: failed replication left %v in B's bucket", name, l)
		}
	}
	if l := jlist(rd.call("b2_list_file_versions", map[string]any{"bucketId": dst}), "files"); len(l) != 1 {
		t.Errorf("B's good destination holds %d versions after the failures, want 1", len(l))
	}

	// An expired key is refused when the configuration is set, too.
	wantErr(t, "B maps A's source key to its expired key", mapping(b, expiring, map[string]any{srcKey: expiringKey}), 400, "bad_request")

	// Both ways: B replicates dst back into A's src. The replica already in
	// dst is not replicated back (includeExistingFiles or not); B's own
	// upload is, and its replica in A is not replicated to B again.
	bSrcKey, _, _ := b.createKey(map[string]any{"keyName": "b-source", "capabilities": []string{"readFiles"}, "bucketId": dst})
	aDstKey, _, _ := a.createKey(map[string]any{"keyName": "a-dest", "capabilities": []string{"writeFiles"}, "bucketId": src})
	r = a.try("b2_update_bucket", map[string]any{"accountId": a.accountID, "bucketId": src, "replicationConfiguration": map[string]any{
		"asReplicationSource":      map[string]any{"sourceApplicationKeyId": srcKey, "replicationRules": []any{replRule("all", dst, "", 1, false)}},
		"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": map[string]any{bSrcKey: aDstKey}}}})
	if r.Status != 200 {
		t.Fatalf("A's bucket as source and destination: %v", r)
	}
	before := b.upload(dst, "before.txt", []byte("in B before its rule"), nil)
	if r := b.try("b2_update_bucket", map[string]any{"accountId": b.accountID, "bucketId": dst, "replicationConfiguration": map[string]any{
		"asReplicationSource":      map[string]any{"sourceApplicationKeyId": bSrcKey, "replicationRules": []any{replRule("back", src, "", 1, true)}},
		"asReplicationDestination": map[string]any{"sourceToDestinationKeyMapping": map[string]any{srcKey: dstKey}}}}); r.Status != 200 {
		t.Fatalf("B's bucket as source and destination: %v", r)
	}
	fromB := b.upload(dst, "fromb.txt", []byte("written in B"), nil)
	waitStatus(t, b, jstr(fromB, "fileId"), "completed")
	waitStatus(t, b, jstr(before, "fileId"), "completed")
	got := map[string]string{}
	for _, f := range jlist(a.call("b2_list_file_versions", map[string]any{"bucketId": src}), "files") {
		got[jstr(f, "fileName")] += jstr(f, "replicationStatus") + ";"
	}
	if len(got) != 7 || got["fromb.txt"] != "replica;" || got["before.txt"] != "replica;" || got["docs/report.bin"] != "completed;" {
		t.Errorf("A's bucket after B replicates back: %v", got)
	}
	got = map[string]string{}
	for _, f := range jlist(b.call("b2_list_file_versions", map[string]any{"bucketId": dst}), "files") {
		got[jstr(f, "fileName")] += jstr(f, "replicationStatus") + ";"
	}
	if len(got) != 3 || got["fromb.txt"] != "completed;" || got["before.txt"] != "completed;" || got["docs/report.bin"] != "replica;" {
		t.Errorf("B's bucket after replicating back: %v", got)
	}

	// Neither account reads the other's bucket, replica or not.
	for who, s := range map[string]*sess{"B's master": b, "B's reader": rd} {
		wantErr(t, who+" lists A's bucket", s.try("b2_list_file_names", map[string]any{"bucketId": src}), 400, "bad_bucket_id")
		if d := s.byID(jstr(up, "fileId")); d.Status != 401 || bytes.Contains(d.Raw, data[:32]) {
			t.Errorf("%s downloads A's source by id: %d", who, d.Status)
		}
		if d := s.byName(srcName, "docs/report.bin"); d.Status != 401 {
			t.Errorf("%s downloads A's source by name: %d", who, d.Status)
		}
	}
	dk := login(t, hc, base, 3, dstKey, dstSecret) // B's destination key: bucket-restricted to dst
	wantErr(t, "B's destination key lists A's bucket", dk.try("b2_list_file_names", map[string]any{"bucketId": src}), 401, "unauthorized")
	if d := dk.byID(jstr(up, "fileId")); d.Status != 401 {
		t.Errorf("B's destination key downloads A's source by id: %d", d.Status)
	}
	// A deletes its source key: A's next upload fails, B gets nothing.
	a.call("b2_delete_key", map[string]any{"applicationKeyId": srcKey})
	late := a.upload(src, "late.txt", []byte("after the source key is gone"), nil)
	waitStatus(t, a, jstr(late, "fileId"), "failed")
	if l := jlist(b.call("b2_list_file_names", map[string]any{"bucketId": dst, "prefix": "late"}), "files"); len(l) != 0 {
		t.Errorf("replicated with a deleted source key: %v", l)
	}

	wantErr(t, "A lists B's destination", a.try("b2_list_file_names", map[string]any{"bucketId": dst}), 400, "bad_bucket_id")
	if d := a.byID(jstr(rep, "fileId")); d.Status != 401 {
		t.Errorf("A downloads B's replica by id: %d", d.Status)
	}
}
