package b2client

// Conformance suite for the client layer: every operation against the
// in-process emulator, and against real B2 when B2PLAN_TEST_KEY_ID and
// B2PLAN_TEST_KEY are set (unique bucket/key names, cleaned up afterwards).
// Pagination, fault injection and local:// run against the emulator only.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

func sha1hex(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

func TestConformanceBuckets(t *testing.T) {
	forEachTarget(t, emulator.Options{}, func(t *testing.T, tg *target) {
		ctx := context.Background()
		spec := BucketSpec{
			Type: live.AllPrivate,
			Info: map[string]string{"team": "web"},
			LifecycleRules: []live.LifecycleRule{
				{FileNamePrefix: "logs/", DaysFromUploadingToHiding: 30, DaysFromHidingToDeleting: 7, DaysFromStartingToCancelingUnfinishedLargeFiles: 1},
			},
			CORSRules: []live.CORSRule{{
				Name: "web-downloads", AllowedOrigins: []string{"https://example.com"},
				AllowedOperations: []string{"b2_download_file_by_name"}, AllowedHeaders: []string{"range"},
				ExposeHeaders: []string{"x-bz-content-sha1"}, MaxAgeSeconds: 3600,
			}},
			Encryption:       "SSE-B2",
			ObjectLock:       true,
			DefaultRetention: live.Retention{Mode: "governance", Period: live.Period{Duration: 30, Unit: "days"}},
		}
		b := tg.bucket(t, spec)

		l := tg.observe(t, live.Request{Buckets: true})
		got := l.Bucket(b.Name)
		if got == nil {
			t.Fatalf("created bucket %s not observed", b.Name)
		}
		want := live.Bucket{
			Name: b.Name, ID: b.ID, Type: live.AllPrivate, Info: spec.Info,
			LifecycleRules: spec.LifecycleRules, CORSRules: spec.CORSRules,
			Encryption: live.Encryption{Readable: true, Mode: "SSE-B2", Algorithm: "AES256"},
			ObjectLock: live.ObjectLock{Readable: true, Enabled: true, DefaultRetention: spec.DefaultRetention},
			// Replication: read with the bucket (the master key may read it); none set.
			Replication: live.Replication{Readable: true},
		}
		if d := cmp.Diff(want, *got, cmpopts.IgnoreFields(live.Bucket{}, "Revision", "Options"), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("observed bucket (-want +got):\n%s", d)
		}
		if got.Revision != b.Revision {
			t.Errorf("observed revision %d, CreateBucket returned %d", got.Revision, b.Revision)
		}

		// Update with the current revision.
		rev := got.Revision
		u, err := tg.m.UpdateBucket(ctx, b.ID, b.Name, BucketUpdate{
			Type: live.AllPublic, SetInfo: true, Info: map[string]string{"team": "data"},
			SetCORSRules: true, SetLifecycleRules: true, Encryption: "none",
			DefaultRetention: &live.Retention{},
		}, &rev)
		if err != nil {
			t.Fatalf("UpdateBucket: %v", err)
		}
		if u.Revision <= rev || u.Type != live.AllPublic || u.Info["team"] != "data" || len(u.CORSRules) != 0 || len(u.LifecycleRules) != 0 || u.Encryption.Mode != "" || u.ObjectLock.DefaultRetention.Mode != "" || !u.ObjectLock.Enabled {
			t.Errorf("updated bucket = %+v", u)
		}
		// A stale revision is a Conflict and changes nothing.
		_, err = tg.m.UpdateBucket(ctx, b.ID, b.Name, BucketUpdate{Type: live.AllPrivate}, &rev)
		if !errors.Is(err, Conflict) {
			t.Errorf("stale ifRevisionIs: err = %v, want Conflict", err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), fmt.Sprintf("update bucket %q: ", b.Name)) {
			t.Errorf("error does not say what failed: %v", err)
		}

		// Creating the same name again: Conflict (duplicate_bucket_name).
		_, err = tg.m.CreateBucket(ctx, BucketSpec{Name: b.Name})
		var e *Error
		if !errors.As(err, &e) || e.Class != Conflict || e.Code != "duplicate_bucket_name" {
			t.Errorf("duplicate create: err = %v, want Conflict duplicate_bucket_name", err)
		}
		if fb, err := tg.m.Bucket(ctx, b.Name); err != nil || fb == nil || fb.ID != b.ID {
			t.Errorf("Bucket(%q) = %v, %v", b.Name, fb, err)
		}

		// Delete a plain bucket.
		plain := tg.bucket(t, BucketSpec{})
		if err := tg.m.DeleteBucket(ctx, plain.ID, plain.Name); err != nil {
			t.Fatalf("DeleteBucket: %v", err)
		}
		if fb, err := tg.m.Bucket(ctx, plain.Name); err != nil || fb != nil {
			t.Errorf("bucket still there after delete: %v, %v", fb, err)
		}
		if err := tg.m.DeleteBucket(ctx, plain.ID, plain.Name); !errors.Is(err, NotFound) && !errors.Is(err, Permanent) {
			t.Errorf("deleting a deleted bucket: %v", err)
		}
	})
}

func TestConformanceKeys(t *testing.T) {
	forEachTarget(t, emulator.Options{}, func(t *testing.T, tg *target) {
		ctx := context.Background()
		b1 := tg.bucket(t, BucketSpec{})
		b2 := tg.bucket(t, BucketSpec{})
		caps := []string{"listBuckets", "listFiles", "readFiles", "writeFiles"}
		single := tg.key(t, KeySpec{Capabilities: caps, BucketIDs: []string{b1.ID}, NamePrefix: "builds/", Duration: 48 * time.Hour})
		multi := tg.key(t, KeySpec{Capabilities: caps, BucketIDs: []string{b1.ID, b2.ID}})
		all := tg.key(t, KeySpec{Capabilities: []string{"listKeys", "listBuckets"}})
		for _, k := range []CreatedKey{single, multi, all} {
			if k.Key.ID == "" || k.Secret.IsZero() {
				t.Errorf("created key %+v has no id or secret", k.Key)
			}
		}
		if !single.Key.Expires.After(time.Now().Add(47*time.Hour)) || !multi.Key.Expires.IsZero() {
			t.Errorf("expirations: single %v, multi %v", single.Key.Expires, multi.Key.Expires)
		}

		l := tg.observe(t, live.Request{Keys: true})
		byID := map[string]live.Key{}
		for _, k := range l.Keys {
			byID[k.ID] = k
		}
		for _, want := range []live.Key{single.Key, multi.Key, all.Key} {
			got, ok := byID[want.ID]
			if !ok {
				t.Errorf("key %s (%s) not observed", want.Name, want.ID)
				continue
			}
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b string) bool { return a < b }),
				cmpopts.IgnoreFields(live.Key{}, "Options"), cmpopts.EquateApproxTime(time.Second)); d != "" {
				t.Errorf("observed key %s (-created +listed):\n%s", want.Name, d)
			}
		}
		if got := byID[multi.Key.ID].BucketIDs; len(got) != 2 {
			t.Errorf("multi-bucket key lists buckets %v", got)
		}
		if got := byID[single.Key.ID]; got.NamePrefix != "builds/" || !slices.Equal(got.BucketIDs, []string{b1.ID}) {
			t.Errorf("single-bucket key = %+v", got)
		}

		named, err := tg.m.KeysNamed(ctx, single.Key.Name)
		if err != nil || len(named) != 1 || named[0].ID != single.Key.ID {
			t.Errorf("KeysNamed = %v, %v", named, err)
		}
		if err := tg.m.DeleteKey(ctx, all.Key.ID, all.Key.Name); err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		if named, _ := tg.m.KeysNamed(ctx, all.Key.Name); len(named) != 0 {
			t.Errorf("key still listed after delete: %v", named)
		}
		// The multi-bucket key works (v4 authorisation) and sees its buckets.
		c, err := tg.connectAs(t, multi.Key.ID, multi.Secret)
		if err != nil {
			t.Fatalf("connect with multi-bucket key: %v", err)
		}
		defer c.Close()
		if al := c.Allowed(); len(al.Buckets) != 2 {
			t.Errorf("multi-bucket key allowed = %+v", al)
		}
		ml := tg.observeWith(t, c, live.Request{Buckets: true})
		if len(ml.Buckets) != 2 {
			t.Errorf("multi-bucket key observed %d buckets, want 2", len(ml.Buckets))
		}
		// Uploads with it work even though blazer authorises with API v3,
		// which refuses multi-bucket keys: the raw fallback takes over.
		if _, err := NewMutator(c).UploadEmpty(ctx, b2.Name, "x/.bzEmpty"); err != nil {
			t.Errorf("upload with a multi-bucket key: %v", err)
		}
		t.Logf("multi-bucket key uploads through blazer: %v", !c.blz.isUnsupported())
	})
}

func (tg *target) observeWith(t testing.TB, c *Conn, req live.Request) *live.Live {
	t.Helper()
	l, err := Observe(context.Background(), c, req)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	return l
}

func TestConformanceFiles(t *testing.T) {
	forEachTarget(t, emulator.Options{AbsoluteMinimumPartSize: 1000, RecommendedPartSize: 1000}, func(t *testing.T, tg *target) {
		ctx := context.Background()
		b := tg.bucket(t, BucketSpec{})
		dst := tg.bucket(t, BucketSpec{})

		// .bzEmpty placeholder.
		puts := tg.calls("s3_PutObject") // the emulator's counters are process-wide: compare deltas
		ph, err := tg.m.UploadEmpty(ctx, b.Name, PlaceholderName("builds"))
		if err != nil {
			t.Fatalf("UploadEmpty: %v", err)
		}
		if ph.Name != "builds/.bzEmpty" || ph.Size != 0 || ph.SHA1Hex() != EmptySHA1 || ph.ID == "" {
			t.Errorf("placeholder = %+v", ph)
		}
		if !tg.s3 && (tg.conn.blz.isUnsupported() || tg.conn.blz.s == nil) {
			t.Errorf("the upload did not go through blazer")
		}
		if tg.s3 && tg.calls("s3_PutObject")-puts != 1 {
			t.Errorf("the placeholder did not go through S3 PutObject: %d calls", tg.calls("s3_PutObject")-puts)
		}

		data := []byte("hello, b2plan")
		info := map[string]string{"src_last_modified_millis": "1700000000000"}
		v1, err := tg.m.Upload(ctx, b.Name, "incoming/a.txt", "text/plain", []byte("old"), nil)
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		v2, err := tg.m.Upload(ctx, b.Name, "incoming/a.txt", "text/plain", data, info)
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		if _, err := tg.m.Upload(ctx, b.Name, "incoming/sub/ü b+c.txt", "", []byte("x"), nil); err != nil {
			t.Fatalf("Upload odd name: %v", err)
		}
		hidden, err := tg.m.Upload(ctx, b.Name, "incoming/gone.txt", "text/plain", []byte("bye"), nil)
		if err != nil {
			t.Fatal(err)
		}
		hm, err := tg.m.HideFile(ctx, b.ID, "incoming/gone.txt")
		if err != nil {
			t.Fatalf("HideFile: %v", err)
		}
		if hm.Action != live.ActionHide || hm.Name != "incoming/gone.txt" {
			t.Errorf("hide marker = %+v", hm)
		}
		if again, err := tg.m.HideFile(ctx, b.ID, "incoming/gone.txt"); tg.s3 {
			// S3 adds no second delete marker: the existing one is returned.
			if err != nil || again.ID != hm.ID {
				t.Errorf("hiding twice over S3: %+v, %v, want the marker %s", again, err, hm.ID)
			}
		} else if !errors.Is(err, Conflict) {
			t.Errorf("hiding twice: %v, want Conflict (already_hidden)", err)
		}
		if _, err := tg.m.HideFile(ctx, b.ID, "incoming/never.txt"); !errors.Is(err, NotFound) {
			t.Errorf("hiding a missing name: %v, want NotFound", err)
		}

		// An unfinished large file shows up in the listing.
		var started fileJSON
		if _, err := tg.conn.call(ctx, "start", "b2_start_large_file", map[string]any{"bucketId": b.ID, "fileName": "incoming/partial.bin", "contentType": "application/octet-stream"}, &started, false); err != nil {
			t.Fatalf("start large file: %v", err)
		}

		lst := tg.listing(t, b.Name, "incoming/")
		var names []string
		for _, v := range lst.Versions {
			names = append(names, v.Action.String()+" "+v.Name)
		}
		wantNames := []string{"upload incoming/a.txt", "upload incoming/a.txt", "hide incoming/gone.txt", "upload incoming/gone.txt", "start incoming/partial.bin", "upload incoming/sub/ü b+c.txt"}
		if tg.real || !slices.Contains(names, "start incoming/partial.bin") {
			// Whether list_file_versions shows "start" entries is checked below via Unfinished.
			wantNames = slices.DeleteFunc(wantNames, func(s string) bool { return strings.HasPrefix(s, "start") })
			names = slices.DeleteFunc(names, func(s string) bool { return strings.HasPrefix(s, "start") })
		}
		if d := cmp.Diff(wantNames, names); d != "" {
			t.Errorf("listing (-want +got):\n%s", d)
		}
		if len(lst.Unfinished) != 1 || lst.Unfinished[0].Name != "incoming/partial.bin" || lst.Unfinished[0].Action != live.ActionStart {
			t.Errorf("unfinished = %+v", lst.Unfinished)
		}
		newest := lst.Versions[0]
		if newest.ID != v2.ID || newest.SHA1Hex() != sha1hex(data) || newest.Size != int64(len(data)) || newest.ContentType != "text/plain" || newest.Info["src_last_modified_millis"] != "1700000000000" {
			t.Errorf("newest a.txt = %+v", newest)
		}
		if lst.Versions[1].ID != v1.ID {
			t.Errorf("older version id %s, want %s", lst.Versions[1].ID, v1.ID)
		}
		if newest.Uploaded == 0 {
			t.Errorf("upload time not set")
		}
		if got := lst.Latest(); len(got) != 3 {
			t.Errorf("Latest = %v", got)
		}

		// get_file_info.
		fi, err := tg.m.GetFileInfo(ctx, v2.ID)
		if err != nil || fi.Name != "incoming/a.txt" || fi.SHA1Hex() != sha1hex(data) || fi.Info["src_last_modified_millis"] != "1700000000000" {
			t.Errorf("GetFileInfo = %+v, %v", fi, err)
		}

		// copy_file within and across buckets keeps content type and info.
		copies, nativeCopies, infos := tg.calls("s3_CopyObject"), tg.calls("b2_copy_file"), tg.calls("b2_get_file_info")
		cp, err := tg.m.CopyFile(ctx, CopyRequest{SourceFileID: v2.ID, SourceName: v2.Name, DestName: "archive/a.txt"})
		if err != nil {
			t.Fatalf("CopyFile: %v", err)
		}
		if cp.Name != "archive/a.txt" || cp.Size != int64(len(data)) || cp.SHA1Hex() != sha1hex(data) || cp.Action != live.ActionUpload {
			t.Errorf("copy = %+v", cp)
		}
		// The copy keeps content type and info (CopyObject's reply does not
		// carry them: look at the listing).
		if l := tg.listing(t, b.Name, "archive/a.txt"); len(l.Versions) != 1 || l.Versions[0].ID != cp.ID || l.Versions[0].ContentType != "text/plain" || l.Versions[0].Info["src_last_modified_millis"] != "1700000000000" || !live.SameContent(&l.Versions[0], &cp) {
			t.Errorf("copy listing = %+v", l.Versions)
		}
		if d1, d2, d3 := tg.calls("s3_CopyObject")-copies, tg.calls("b2_copy_file")-nativeCopies, tg.calls("b2_get_file_info")-infos; tg.s3 && (d1 != 1 || d2 != 0 || d3 != 0) {
			// The source was listed (with its ETag): no read-back is needed.
			t.Errorf("copy over S3: %d CopyObject, %d b2_copy_file, %d b2_get_file_info (want 1, 0, 0)", d1, d2, d3)
		}
		xc, err := tg.m.CopyFile(ctx, CopyRequest{SourceFileID: v2.ID, SourceName: v2.Name, DestBucketID: dst.ID, DestBucket: dst.Name, DestName: "moved/a.txt"})
		if err != nil {
			t.Fatalf("CopyFile across buckets: %v", err)
		}
		if l := tg.listing(t, dst.Name, "moved/"); len(l.Versions) != 1 || l.Versions[0].ID != xc.ID || !live.SameContent(&l.Versions[0], &newest) {
			t.Errorf("cross-bucket copy listing = %+v", l.Versions)
		}
		_, err = tg.m.CopyFile(ctx, CopyRequest{SourceFileID: "4_zdoesnotexist_f000000000000000_d20240101_m000000_c000_v0000000_t0000", SourceName: "incoming/x", DestName: "archive/x"})
		if err == nil {
			t.Errorf("copy of a missing file succeeded")
		} else if !strings.HasPrefix(err.Error(), "copy_file incoming/x → archive/x: ") {
			t.Errorf("copy error does not say what failed: %v", err)
		}

		// Large-file copy: parts copied in parallel, part SHA-1s returned.
		big := bytes.Repeat([]byte("0123456789abcdef"), 400) // 6400 bytes
		if tg.real {
			big = bytes.Repeat([]byte("0123456789abcdef"), 700_000) // 11.2 MB: parts of 5 MB
		}
		src, err := tg.m.Upload(ctx, b.Name, "incoming/big.bin", "application/x-test", big, map[string]string{"color": "blue"})
		if err != nil {
			t.Fatalf("Upload big: %v", err)
		}
		absMin, _ := tg.conn.PartSizes()
		res, err := tg.m.CopyLargeFile(ctx, LargeCopyRequest{CopyRequest: CopyRequest{DestBucketID: b.ID, DestName: "archive/big.bin"}, Source: src, PartSize: absMin})
		if err != nil {
			t.Fatalf("CopyLargeFile: %v", err)
		}
		wantParts := int((int64(len(big)) + absMin - 1) / absMin)
		if len(res.PartSHA1s) != wantParts {
			t.Errorf("parts = %d, want %d", len(res.PartSHA1s), wantParts)
		}
		for i, s := range res.PartSHA1s {
			lo := int64(i) * absMin
			hi := min(lo+absMin, int64(len(big)))
			if s != sha1hex(big[lo:hi]) {
				t.Errorf("part %d sha1 %s, want %s", i+1, s, sha1hex(big[lo:hi]))
			}
		}
		lv := tg.listing(t, b.Name, "archive/big.bin")
		if len(lv.Versions) != 1 {
			t.Fatalf("large copy listing = %+v", lv.Versions)
		}
		got := lv.Versions[0]
		if got.Size != int64(len(big)) || got.SHA1Hex() != sha1hex(big) || got.Flags&live.FlagLargeFileSHA1 == 0 || got.ContentType != "application/x-test" || got.Info["color"] != "blue" {
			t.Errorf("large copy = %+v", got)
		}
		if len(lv.Unfinished) != 0 {
			t.Errorf("unfinished after large copy: %+v", lv.Unfinished)
		}

		// Delete a version: the older one becomes current again.
		if err := tg.m.DeleteVersion(ctx, v2.Name, v2.ID, false); err != nil {
			t.Fatalf("DeleteVersion: %v", err)
		}
		if err := tg.m.DeleteVersion(ctx, v2.Name, v2.ID, false); tg.s3 {
			if err != nil { // S3: deleting a version that is gone succeeds
				t.Errorf("deleting twice over S3: %v", err)
			}
		} else if !errors.Is(err, NotFound) {
			t.Errorf("deleting twice: %v, want NotFound", err)
		}
		if _, err := tg.m.GetFileInfo(ctx, v2.ID); !errors.Is(err, NotFound) {
			t.Errorf("GetFileInfo of a deleted version: %v, want NotFound", err)
		}
		if l := tg.listing(t, b.Name, "incoming/a.txt"); len(l.Versions) != 1 || l.Versions[0].ID != v1.ID {
			t.Errorf("after delete = %+v", l.Versions)
		}
		_ = hidden

		// A prefix of a bucket that does not exist is an empty listing.
		if l := tg.listing(t, uniqueName("b2plan-nobucket"), "x/"); l.BucketID != "" || len(l.Versions) != 0 {
			t.Errorf("listing of a missing bucket = %+v", l)
		}
	})
}

func TestConformanceObjectLock(t *testing.T) {
	forEachTarget(t, emulator.Options{}, func(t *testing.T, tg *target) {
		ctx := context.Background()
		b := tg.bucket(t, BucketSpec{ObjectLock: true, DefaultRetention: live.Retention{Mode: "governance", Period: live.Period{Duration: 1, Unit: "days"}}})
		v, err := tg.m.Upload(ctx, b.Name, "locked/a.txt", "text/plain", []byte("keep"), nil)
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		l := tg.listing(t, b.Name, "locked/")
		if len(l.Versions) != 1 || l.Versions[0].Retention != live.RetentionGovernance || l.Versions[0].RetainUntil == 0 {
			t.Fatalf("locked version = %+v", l.Versions)
		}
		err = tg.m.DeleteVersion(ctx, v.Name, v.ID, false)
		if !errors.Is(err, Locked) {
			t.Errorf("deleting a governance-locked version: %v, want Locked", err)
		}
		// Legal hold: observed, blocks deletion even with bypassGovernance.
		hold := func(state string) {
			t.Helper()
			req := map[string]any{"fileName": v.Name, "fileId": v.ID, "legalHold": state}
			if _, err := tg.conn.call(ctx, "legal hold", "b2_update_file_legal_hold", req, nil, false); err != nil {
				t.Fatalf("update legal hold: %v", err)
			}
		}
		hold("on")
		if l := tg.listing(t, b.Name, "locked/"); l.Versions[0].LegalHold != live.LegalHoldOn {
			t.Errorf("legal hold not observed: %+v", l.Versions[0])
		}
		if err := tg.m.DeleteVersion(ctx, v.Name, v.ID, true); !errors.Is(err, Locked) {
			t.Errorf("deleting a version under legal hold: %v, want Locked", err)
		}
		hold("off")
		if err := tg.m.DeleteVersion(ctx, v.Name, v.ID, true); err != nil {
			t.Errorf("delete with bypassGovernance: %v", err)
		}
	})
}

func TestConformanceRestrictedKey(t *testing.T) {
	forEachTarget(t, emulator.Options{}, func(t *testing.T, tg *target) {
		ctx := context.Background()
		b := tg.bucket(t, BucketSpec{})
		other := tg.bucket(t, BucketSpec{})
		if _, err := tg.m.Upload(ctx, b.Name, "docs/a.txt", "text/plain", []byte("a"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := tg.m.Upload(ctx, other.Name, "docs/a.txt", "text/plain", []byte("a"), nil); err != nil {
			t.Fatal(err)
		}
		k := tg.key(t, KeySpec{Capabilities: []string{"listBuckets", "listFiles"}, BucketIDs: []string{b.ID}})
		c, err := tg.connectAs(t, k.Key.ID, k.Secret)
		if err != nil {
			t.Fatalf("connect restricted: %v", err)
		}
		defer c.Close()
		m := NewMutator(c)

		err = c.Require([]string{"listBuckets", "listKeys", "writeKeys", "listFiles", "deleteFiles"}, []string{b.Name, other.Name})
		if !errors.Is(err, Unauthorized) {
			t.Fatalf("Require: %v, want Unauthorized", err)
		}
		for _, want := range []string{"listKeys", "writeKeys", "deleteFiles", other.Name} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Require error %q does not mention %s", err, want)
			}
		}
		if strings.Contains(err.Error(), "listBuckets,") || strings.Contains(err.Error(), "listFiles,") {
			t.Errorf("Require lists capabilities the key has: %v", err)
		}
		if err := c.Require([]string{"listFiles"}, []string{b.Name}); err != nil {
			t.Errorf("Require of held capabilities: %v", err)
		}

		// What it may do works; the rest fails Unauthorized.
		l, err := Observe(ctx, c, live.Request{Buckets: true, Prefixes: []live.PrefixRequest{{BucketName: b.Name, Prefix: "docs/"}}})
		if err != nil {
			t.Fatalf("Observe allowed bucket: %v", err)
		}
		if len(l.Buckets) != 1 || len(l.Listings[0].Versions) != 1 {
			t.Errorf("restricted observe: %d buckets, %d versions", len(l.Buckets), len(l.Listings[0].Versions))
		}
		var errs []error
		_, err = Observe(ctx, c, live.Request{Keys: true})
		errs = append(errs, err)
		_, err = Observe(ctx, c, live.Request{Prefixes: []live.PrefixRequest{{BucketName: other.Name, Prefix: "docs/"}}})
		errs = append(errs, err)
		_, err = m.CreateBucket(ctx, BucketSpec{Name: uniqueName("b2plan-test")})
		errs = append(errs, err)
		_, err = m.Upload(ctx, b.Name, "docs/b.txt", "text/plain", []byte("b"), nil)
		errs = append(errs, err)
		_, err = m.CopyFile(ctx, CopyRequest{SourceFileID: l.Listings[0].Versions[0].ID, SourceName: "docs/a.txt", DestName: "docs/c.txt"})
		errs = append(errs, err)
		for i, err := range errs {
			if !errors.Is(err, Unauthorized) {
				t.Errorf("restricted op %d: err = %v, want Unauthorized", i, err)
			}
		}
	})
}

// TestSecretsNeverInErrors drives error paths with real secrets in play and
// checks that no error string contains one.
func TestSecretsNeverInErrors(t *testing.T) {
	tg := newEmulatorTarget(t, emulator.Options{})
	ctx := context.Background()
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	const wrong = "K00wrongSecretThatMustNotLeak"
	_, err := Connect(ctx, Config{Endpoint: tg.srv.URL(), Transport: tg.srv.Transport(), KeyID: emulator.DefaultKeyID, Key: wrong, Getenv: noEnv, Retry: fastRetry})
	if err == nil || !strings.Contains(err.Error(), "B2 rejected the application key (401 unauthorized): check") {
		t.Errorf("wrong key: %v", err)
	}
	if !errors.Is(err, Unauthorized) {
		t.Errorf("wrong key is not Unauthorized: %v", err)
	}
	collect(err)
	_, err = Connect(ctx, Config{Endpoint: "b2://someid:" + wrong + "@bad host/", Getenv: noEnv})
	collect(err)
	_, err = Connect(ctx, Config{Endpoint: "b2://someid:" + wrong + "@127.0.0.1:1/", Getenv: noEnv, Retry: RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
	collect(err)
	_, err = Connect(ctx, Config{Getenv: func(k string) string {
		return map[string]string{"B2_ENDPOINT": tg.srv.URL(), "B2_APPLICATION_KEY_ID": "nobody", "B2_APPLICATION_KEY": wrong}[k]
	}, Transport: tg.srv.Transport(), Retry: fastRetry})
	collect(err)

	b := tg.bucket(t, BucketSpec{})
	k := tg.key(t, KeySpec{Capabilities: []string{"listBuckets"}, BucketIDs: []string{b.ID}})
	c, err := tg.connectAs(t, k.Key.ID, k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMutator(c)
	_, err = Observe(ctx, c, live.Request{Keys: true})
	collect(err)
	collect(c.Require([]string{"writeKeys"}, []string{"elsewhere"}))
	_, err = m.Upload(ctx, b.Name, "x", "", nil, nil)
	collect(err)
	_, err = m.CreateKey(ctx, KeySpec{Name: "x", Capabilities: []string{"listFiles"}})
	collect(err)
	c.Close()

	if len(errs) < 8 {
		t.Fatalf("collected only %d errors", len(errs))
	}
	secrets := []string{wrong, k.Secret.Reveal(), emulator.DefaultKey}
	for _, err := range errs {
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), s) {
				t.Errorf("error leaks a secret: %v", err)
			}
		}
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", k), c.Endpoint().String()} {
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("output leaks a secret: %s", s)
			}
		}
	}
}

// TestPagination checks that listings follow page boundaries: N versions
// take ceil(N/10000) list calls, and nothing is lost or repeated.
func TestPagination(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 20,001 objects")
	}
	tg := newEmulatorTarget(t, emulator.Options{})
	b := tg.bucket(t, BucketSpec{})
	const n = 20001
	seed(t, tg.m, b.Name, "p/", n, 8)
	tg.srv.ResetStats()
	lst := tg.listing(t, b.Name, "p/")
	if got := tg.calls("b2_list_file_versions"); got != 3 {
		t.Errorf("list calls = %d, want 3", got)
	}
	if len(lst.Versions) != n {
		t.Fatalf("listed %d versions, want %d", len(lst.Versions), n)
	}
	for i := range lst.Versions {
		if want := "p/f" + pad(i); lst.Versions[i].Name != want {
			t.Fatalf("version %d = %s, want %s", i, lst.Versions[i].Name, want)
		}
	}
	// 10,001 keys take 2 list_keys calls (the master key is not listed).
	var wg sync.WaitGroup
	var failed sync.Once
	sem := make(chan struct{}, 8)
	for i := 0; i < 10001; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := tg.m.CreateKey(context.Background(), KeySpec{Name: "page-key", Capabilities: []string{"listFiles"}}); err != nil {
				failed.Do(func() { t.Errorf("CreateKey: %v", err) })
			}
		}()
	}
	wg.Wait()
	tg.srv.ResetStats()
	l := tg.observe(t, live.Request{Keys: true})
	if got := tg.calls("b2_list_keys"); got != 2 {
		t.Errorf("list_keys calls = %d, want 2", got)
	}
	if n := len(l.KeysNamed("page-key")); n != 10001 || len(l.Keys) != 10001 {
		t.Errorf("listed %d keys, %d named page-key; want 10001 and no others", len(l.Keys), n)
	}
}

// TestFaults runs a workload with 20% injected 503/429/500 failures and a
// token expiry in the middle: everything still completes correctly.
func TestFaults(t *testing.T) {
	tg := newEmulatorTarget(t, emulator.Options{Seed: 42, AbsoluteMinimumPartSize: 100, RecommendedPartSize: 100})
	ctx := context.Background()
	tg.srv.SetFaults(0.2, 503, 429, 500)
	defer tg.srv.SetFaults(0)

	b := tg.bucket(t, BucketSpec{Info: map[string]string{"k": "v"}})
	dst := tg.bucket(t, BucketSpec{})
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("in/%03d.txt", i)
			v, err := tg.m.Upload(ctx, b.Name, name, "text/plain", []byte(name), nil)
			if err != nil {
				errc <- err
				return
			}
			if i == 20 {
				tg.srv.ExpireTokens()
			}
			if _, err := copyLooking(ctx, tg.conn, tg.m, dst.Name, CopyRequest{SourceFileID: v.ID, SourceName: name, DestBucketID: dst.ID, DestName: "out/" + name[3:]}); err != nil {
				errc <- err
				return
			}
			if err := tg.m.DeleteVersion(ctx, v.Name, v.ID, false); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("operation under faults: %v", err)
	}
	big := bytes.Repeat([]byte("x"), 1050)
	src, err := tg.m.Upload(ctx, b.Name, "big.bin", "", big, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg.srv.ExpireTokens()
	if _, err := tg.m.CopyLargeFile(ctx, LargeCopyRequest{CopyRequest: CopyRequest{DestBucketID: dst.ID, DestName: "big.bin"}, Source: src}); err != nil {
		t.Errorf("large copy under faults: %v", err)
	}
	// A multi-bucket key uploads through the raw fallback; it too survives
	// token expiry.
	mk := tg.key(t, KeySpec{Capabilities: []string{"listBuckets", "writeFiles"}, BucketIDs: []string{b.ID, dst.ID}})
	mc, err := tg.connectAs(t, mk.Key.ID, mk.Secret)
	if err != nil {
		t.Fatalf("connect multi-bucket key: %v", err)
	}
	defer mc.Close()
	mm := NewMutator(mc)
	for i := 0; i < 5; i++ {
		if i == 2 {
			tg.srv.ExpireTokens()
		}
		if _, err := mm.UploadEmpty(ctx, dst.Name, fmt.Sprintf("multi/%d/.bzEmpty", i)); err != nil {
			t.Errorf("multi-bucket upload %d under faults: %v", i, err)
		}
	}
	k := tg.key(t, KeySpec{Capabilities: []string{"listFiles"}})
	if _, err := tg.m.UpdateBucket(ctx, b.ID, b.Name, BucketUpdate{SetInfo: true, Info: map[string]string{"k": "w"}}, nil); err != nil {
		t.Errorf("update under faults: %v", err)
	}

	l, err := Observe(ctx, tg.conn, live.Request{Buckets: true, Keys: true, Prefixes: []live.PrefixRequest{{BucketName: b.Name, Prefix: "in/"}, {BucketName: dst.Name, Prefix: "out/"}, {BucketName: dst.Name, Prefix: "big.bin"}}})
	if err != nil {
		t.Fatalf("Observe under faults: %v", err)
	}
	st := tg.srv.Stats()
	tg.srv.SetFaults(0)
	if len(l.Listings[0].Versions) != 0 {
		t.Errorf("source still has %d versions", len(l.Listings[0].Versions))
	}
	if got := len(l.Listings[1].Versions); got != 40 {
		t.Errorf("destination has %d copies, want 40", got)
	}
	if got := len(l.Listings[2].Versions); got != 1 {
		t.Errorf("destination has %d large copies, want 1", got)
	}
	if l.Bucket(b.Name).Info["k"] != "w" {
		t.Errorf("bucket info = %v", l.Bucket(b.Name).Info)
	}
	if len(l.KeysNamed(k.Key.Name)) != 1 {
		t.Errorf("key not listed once")
	}
	if st.Faults == 0 {
		t.Errorf("no faults were injected (stats %+v)", st)
	}
	t.Logf("calls %d, faults injected %d, re-authorisations %d", st.Total, st.Faults, tg.conn.authGeneration())
}

// TestLocalEndpoint: local://PATH is served by Config.Local (the command
// layer's embedded emulator), with its development credentials, and
// stopped by Close; B2_ENDPOINT wins; without Config.Local it is an error.
func TestLocalEndpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ctx := context.Background()
	var started, closed []string
	local := func(d string) (*LocalServer, error) {
		s, err := emulator.NewServer(emulator.Options{Dir: d})
		if err != nil {
			return nil, err
		}
		started = append(started, d)
		return &LocalServer{URL: s.URL(), Transport: s.Transport(), KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey,
			Close: func() error { closed = append(closed, d); return s.Close() }}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The environment's credentials are not the emulator's: not consulted.
	env := func(k string) string {
		switch k {
		case "B2_APPLICATION_KEY_ID":
			return "0012345"
		case "B2_APPLICATION_KEY":
			return "K00realaccountkey"
		}
		return ""
	}
	c, err := Connect(ctx, Config{Endpoint: "local://" + dir, Getenv: env, Retry: fastRetry, Local: local})
	if err != nil {
		t.Fatalf("Connect local: %v", err)
	}
	if len(started) != 1 || started[0] != dir || c.KeyID() != emulator.DefaultKeyID || c.Endpoint().String() != "local://"+dir {
		t.Errorf("local connection: started %v, key id %s, endpoint %s", started, c.KeyID(), c.Endpoint())
	}
	name := uniqueName("b2plan-local")
	if _, err := NewMutator(c).CreateBucket(ctx, BucketSpec{Name: name}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if err := c.Close(); err != nil || len(closed) != 1 {
		t.Fatalf("Close: %v (closed %v)", err, closed)
	}
	// B2_ENDPOINT wins, and state persists across connections.
	c2, err := Connect(ctx, Config{Endpoint: "https://api.backblazeb2.com", Getenv: func(k string) string {
		if k == "B2_ENDPOINT" {
			return "local://" + dir
		}
		return ""
	}, Retry: fastRetry, Local: local})
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	defer c2.Close()
	l, err := Observe(ctx, c2, live.Request{Buckets: true})
	if err != nil {
		t.Fatal(err)
	}
	if l.Bucket(name) == nil {
		t.Errorf("bucket %s did not persist in %s", name, dir)
	}
	if _, err := Connect(ctx, Config{Endpoint: "local://" + dir, Getenv: noEnv}); err == nil || !strings.Contains(err.Error(), "no embedded emulator") {
		t.Errorf("local:// without Config.Local: %v", err)
	}
}

// B2 refuses to finish a large file of one part: a large copy of a source
// below the recommended part size is split in two, and one at or below the
// minimum part size is refused before anything is started.
func TestCopyLargeFileTwoPartsMinimum(t *testing.T) {
	tg := newEmulatorTarget(t, emulator.Options{AbsoluteMinimumPartSize: 1000})
	ctx := context.Background()
	b := tg.bucket(t, BucketSpec{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 400) // 6400 bytes, far below 100 MB
	src, err := tg.m.Upload(ctx, b.Name, "src/big.bin", "application/x-test", big, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tg.m.CopyLargeFile(ctx, LargeCopyRequest{CopyRequest: CopyRequest{DestBucketID: b.ID, DestName: "dst/big.bin"}, Source: src})
	if err != nil {
		t.Fatalf("CopyLargeFile: %v", err)
	}
	if len(res.PartSHA1s) != 2 || res.PartSHA1s[0] != sha1hex(big[:3200]) || res.PartSHA1s[1] != sha1hex(big[3200:]) {
		t.Errorf("parts %v", res.PartSHA1s)
	}
	if l := tg.listing(t, b.Name, "dst/big.bin"); len(l.Versions) != 1 || l.Versions[0].SHA1Hex() != sha1hex(big) {
		t.Errorf("copy listing %+v", l.Versions)
	}
	small, err := tg.m.Upload(ctx, b.Name, "src/small.bin", "application/x-test", big[:1000], nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tg.m.CopyLargeFile(ctx, LargeCopyRequest{CopyRequest: CopyRequest{DestBucketID: b.ID, DestName: "dst/small.bin"}, Source: small})
	if err == nil || !strings.Contains(err.Error(), "at least two parts") {
		t.Errorf("large copy of a source of the minimum part size: %v", err)
	}
	if l := tg.listing(t, b.Name, "dst/small.bin"); len(l.Versions)+len(l.Unfinished) != 0 {
		t.Errorf("refused large copy left %+v %+v", l.Versions, l.Unfinished)
	}
}
