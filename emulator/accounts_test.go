package emulator_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/b2plan/b2plan/emulator"
)

const (
	acct2ID  = "b2local00002"
	acct2Key = "K00b2localSecondAccountKey"
)

// Two accounts in one b2local: each sees only its own buckets, files and
// keys; bucket names are unique across both; each has its own rate budget;
// ownership survives a restart.
func TestAccountsIsolated(t *testing.T) {
	dir := t.TempDir()
	opts := emulator.Options{Dir: dir, Accounts: []emulator.Account{{KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey}, {KeyID: acct2ID, Key: acct2Key}}}
	srv, base, hc := startServer(t, opts)
	a := master(t, hc, base, 4)
	b := login(t, hc, base, 4, acct2ID, acct2Key)
	if a.accountID != emulator.DefaultAccountID || b.accountID != acct2ID {
		t.Fatalf("account ids %q %q", a.accountID, b.accountID)
	}
	nameA, nameB := bucketName("acct-a"), bucketName("acct-b")
	bidA := jstr(a.createBucket(nameA, "allPrivate", nil), "bucketId")
	r := b.try("b2_create_bucket", map[string]any{"accountId": b.accountID, "bucketName": nameA, "bucketType": "allPrivate"})
	wantErr(t, "another account's bucket name", r, 400, "duplicate_bucket_name")
	bb := b.createBucket(nameB, "allPrivate", nil)
	bidB := jstr(bb, "bucketId")
	if jstr(bb, "accountId") != acct2ID {
		t.Errorf("bucket of account 2 reports accountId %q", jstr(bb, "accountId"))
	}
	fb := b.upload(bidB, "secret.txt", []byte("account two's data"), nil)
	if jstr(fb, "accountId") != acct2ID {
		t.Errorf("file of account 2 reports accountId %q", jstr(fb, "accountId"))
	}
	fidB := jstr(fb, "fileId")

	for who, s := range map[string]*sess{"a": a, "b": b} {
		var got []string
		for _, x := range jlist(s.call("b2_list_buckets", map[string]any{"accountId": s.accountID}), "buckets") {
			got = append(got, jstr(x, "bucketName"))
		}
		want := map[string]string{"a": nameA, "b": nameB}[who]
		if len(got) != 1 || got[0] != want {
			t.Errorf("account %s lists buckets %v, want [%s]", who, got, want)
		}
	}
	wantErr(t, "accountId of another account", b.try("b2_list_buckets", map[string]any{"accountId": a.accountID}), 401, "unauthorized")

	// Account a reaches nothing of b's, by bucket id, file id or name.
	for _, c := range []struct {
		op   string
		body map[string]any
	}{
		{"b2_get_upload_url", map[string]any{"bucketId": bidB}},
		{"b2_list_file_names", map[string]any{"bucketId": bidB}},
		{"b2_list_file_versions", map[string]any{"bucketId": bidB}},
		{"b2_update_bucket", map[string]any{"accountId": a.accountID, "bucketId": bidB, "bucketType": "allPublic"}},
		{"b2_delete_bucket", map[string]any{"accountId": a.accountID, "bucketId": bidB}},
		{"b2_get_file_info", map[string]any{"fileId": fidB}},
		{"b2_delete_file_version", map[string]any{"fileName": "secret.txt", "fileId": fidB}},
		{"b2_hide_file", map[string]any{"bucketId": bidB, "fileName": "secret.txt"}},
		{"b2_copy_file", map[string]any{"sourceFileId": fidB, "fileName": "stolen", "destinationBucketId": bidA}},
		{"b2_copy_file", map[string]any{"sourceFileId": jstr(a.upload(bidA, "mine", []byte("x"), nil), "fileId"), "fileName": "planted", "destinationBucketId": bidB}},
		{"b2_create_key", map[string]any{"accountId": a.accountID, "keyName": "k", "capabilities": []string{"listFiles"}, "bucketIds": []string{bidB}}},
		{"b2_get_download_authorization", map[string]any{"bucketId": bidB, "fileNamePrefix": "", "validDurationInSeconds": 60}},
	} {
		r := a.try(c.op, c.body)
		if r.Status != 400 || r.code() != "bad_bucket_id" {
			t.Errorf("account a: %s on account b's bucket: %v", c.op, r)
		}
	}
	if d := a.byID(fidB); d.Status != 401 {
		t.Errorf("account a downloads b's file by id: %d", d.Status)
	}
	if d := a.byName(nameB, "secret.txt"); d.Status != 401 {
		t.Errorf("account a downloads b's file by name: %d", d.Status)
	}
	if d := b.byID(fidB); d.Status != 200 || string(d.Raw) != "account two's data" {
		t.Errorf("account b's own download: %v", d)
	}

	// Keys: each account lists and deletes only its own.
	kidA, _, _ := a.createKey(map[string]any{"accountId": a.accountID, "keyName": "ka", "capabilities": []string{"listFiles"}})
	if ks := jlist(b.call("b2_list_keys", map[string]any{"accountId": b.accountID}), "keys"); len(ks) != 0 {
		t.Errorf("account b lists keys %v", ks)
	}
	if r := b.try("b2_delete_key", map[string]any{"applicationKeyId": kidA}); r.Status != 400 {
		t.Errorf("account b deletes a's key: %v", r)
	}
	if len(jlist(a.call("b2_list_keys", map[string]any{"accountId": a.accountID}), "keys")) != 1 {
		t.Errorf("a's key is gone")
	}

	// S3: each account's buckets only; names shared across accounts.
	ca, cb := s3Master(srv, hc), s3For(srv, hc, acct2ID, acct2Key)
	lb, err := cb.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != nameB {
		t.Errorf("S3 ListBuckets of account b: %v %v", lb, err)
	}
	_, err = cb.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(nameA), Key: aws.String("mine")})
	wantS3Err(t, "account b reads a's object", err, "AccessDenied")
	_, err = cb.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(nameA)})
	wantS3Err(t, "account b creates a's bucket name", err, "BucketAlreadyExists")
	_, err = ca.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(nameA)})
	wantS3Err(t, "account a creates its own bucket name", err, "BucketAlreadyOwnedByYou")

	// Ownership survives a restart.
	srv.Close()
	_, base2, hc2 := startServer(t, opts)
	b2 := login(t, hc2, base2, 4, acct2ID, acct2Key)
	a2 := master(t, hc2, base2, 4)
	if l := jlist(b2.call("b2_list_buckets", map[string]any{"accountId": acct2ID}), "buckets"); len(l) != 1 || jstr(l[0], "bucketName") != nameB {
		t.Errorf("account b's buckets after restart: %v", l)
	}
	if r := a2.try("b2_list_file_names", map[string]any{"bucketId": bidB}); r.code() != "bad_bucket_id" {
		t.Errorf("account a lists b's bucket after restart: %v", r)
	}
}

// The rate limit is per account: one account over its budget does not slow
// the other.
func TestAccountsRateLimitedSeparately(t *testing.T) {
	srv, base, hc := startServer(t, emulator.Options{RateLimit: 3, Accounts: []emulator.Account{{KeyID: emulator.DefaultKeyID, Key: emulator.DefaultKey}, {KeyID: acct2ID, Key: acct2Key}}})
	clk := &frozenClock{t: time.Now()}
	emulator.SetRateClock(srv, clk.now)
	a := master(t, hc, base, 4)
	for i := 0; i < 5; i++ {
		a.try("b2_list_buckets", map[string]any{"accountId": a.accountID})
	}
	wantErr(t, "account a over its rate", a.try("b2_list_buckets", map[string]any{"accountId": a.accountID}), 429, "too_many_requests")
	b := login(t, hc, base, 4, acct2ID, acct2Key)
	if r := b.try("b2_list_buckets", map[string]any{"accountId": b.accountID}); r.Status != 200 {
		t.Errorf("account b throttled by a's load: %v", r)
	}
}

func TestAccountsOptionsRefused(t *testing.T) {
	for _, accts := range [][]emulator.Account{
		{{KeyID: acct2ID}},
		{{KeyID: acct2ID, Key: "x"}, {KeyID: acct2ID, Key: "y"}},
		{{KeyID: emulator.DefaultKeyID, Key: "z"}},
	} {
		if s, err := emulator.NewServer(emulator.Options{MasterKeyID: emulator.DefaultKeyID, MasterKey: emulator.DefaultKey, Accounts: accts}); err == nil {
			s.Close()
			t.Errorf("accounts %v accepted", accts)
		}
	}
	// Without a master key the first account is the default.
	_, base, hc := startServer(t, emulator.Options{Accounts: []emulator.Account{{KeyID: acct2ID, Key: acct2Key}}})
	if r, _ := authorizeRaw(hc, base, 4, emulator.DefaultKeyID, emulator.DefaultKey); r.Status != http.StatusUnauthorized {
		t.Errorf("development key still works when the first account replaces it: %v", r)
	}
	login(t, hc, base, 4, acct2ID, acct2Key)
}
