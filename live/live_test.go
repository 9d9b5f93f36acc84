package live

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

func TestVersionIsCompact(t *testing.T) {
	if s := unsafe.Sizeof(Version{}); s > 112 {
		t.Errorf("Version is %d bytes, want ≤ 112", s)
	}
}

func TestSHA1(t *testing.T) {
	var v Version
	if v.HasSHA1() || v.SHA1Hex() != "" {
		t.Fatal("zero Version has a SHA-1")
	}
	for _, bad := range []string{"none", "", "unverified:da39a3ee5e6b4b0d3255bfef95601890afd80709", "zz39a3ee5e6b4b0d3255bfef95601890afd80709"} {
		if v.SetSHA1Hex(bad, false) || v.HasSHA1() {
			t.Errorf("SetSHA1Hex(%q) accepted", bad)
		}
	}
	const h = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	if !v.SetSHA1Hex(h, true) || v.SHA1Hex() != h || v.Flags&FlagLargeFileSHA1 == 0 {
		t.Errorf("SetSHA1Hex: %+v", v)
	}
	w := Version{Size: v.Size}
	w.SetSHA1Hex(h, false)
	if !SameContent(&v, &w) {
		t.Error("SameContent false for equal size and SHA-1")
	}
	w.Size++
	if SameContent(&v, &w) {
		t.Error("SameContent true for different sizes")
	}
}

func TestListingLatest(t *testing.T) {
	l := Listing{Versions: []Version{
		{Name: "a", ID: "3"}, {Name: "a", ID: "2"},
		{Name: "b", ID: "5", Action: ActionHide}, {Name: "b", ID: "4"},
		{Name: "c", ID: "6", Action: ActionStart},
		{Name: "d", ID: "7", Size: 3},
	}}
	if d := cmp.Diff([]int{0, 2, 5}, l.Latest()); d != "" {
		t.Errorf("Latest (-want +got):\n%s", d)
	}
	if l.Bytes() != 3 {
		t.Errorf("Bytes = %d", l.Bytes())
	}
}

func TestLookups(t *testing.T) {
	l := &Live{
		Buckets:  []Bucket{{Name: "zeta", ID: "2"}, {Name: "Acme-Logs", ID: "1"}},
		Keys:     []Key{{Name: "ci", ID: "k2"}, {Name: "ci", ID: "k1"}, {Name: "other", ID: "k3"}},
		Listings: []Listing{{BucketName: "acme-logs", Prefix: "a/"}},
	}
	l.SortBuckets()
	l.SortKeys()
	if l.Buckets[0].Name != "Acme-Logs" || l.Keys[0].ID != "k1" {
		t.Errorf("sorting: %+v %+v", l.Buckets, l.Keys)
	}
	if b := l.Bucket("acme-logs"); b == nil || b.ID != "1" {
		t.Errorf("Bucket is not case-insensitive: %v", b)
	}
	if l.BucketByID("2") == nil || l.Bucket("nope") != nil {
		t.Error("BucketByID / missing bucket")
	}
	if len(l.KeysNamed("ci")) != 2 {
		t.Error("KeysNamed")
	}
	if l.Listing("ACME-LOGS", "a/") == nil || l.Listing("acme-logs", "b/") != nil {
		t.Error("Listing lookup")
	}
}

func TestInternerAndActions(t *testing.T) {
	var in Interner
	a := in.Intern(string([]byte("text/plain")))
	b := in.Intern(string([]byte("text/plain")))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("Intern did not share the string")
	}
	for _, s := range []string{"upload", "hide", "start", "folder"} {
		a, ok := ParseAction(s)
		if !ok || a.String() != s {
			t.Errorf("ParseAction(%q) = %v, %v", s, a, ok)
		}
	}
	if a, ok := ParseAction("copy"); !ok || a != ActionUpload {
		t.Error("copy is an upload")
	}
	if ParseRetentionMode("governance") != RetentionGovernance || ParseRetentionMode("") != RetentionNone || ParseRetentionMode("x") != RetentionUnknown {
		t.Error("ParseRetentionMode")
	}
}

// TestCompare is the content-identity rule: only SHA-1s or b2plan's own
// marker prove equal content; content type and file info never do.
func TestCompare(t *testing.T) {
	sha := func(v *Version, s string) { v.SetSHA1Hex(s, false) }
	const h1, h2 = "0000000000000000000000000000000000000001", "0000000000000000000000000000000000000002"
	a := Version{ID: "src", Size: 10, ContentType: "x/y", Info: map[string]string{"k": "v"}}
	b := Version{ID: "dst", Size: 10, ContentType: "x/y", Info: map[string]string{"k": "v"}}
	if id, why := Compare(&a, &b); id != Unproven || why != "no SHA-1 on either side: content cannot be compared" {
		t.Errorf("no SHA-1s, same metadata: %v %q", id, why)
	}
	c := b
	c.Size = 11
	if id, _ := Compare(&a, &c); id != Different {
		t.Errorf("sizes differ: %v", id)
	}
	m := b
	m.Info = map[string]string{SourceIDKey: "src"}
	if id, _ := Compare(&a, &m); id != Same {
		t.Errorf("marked copy: %v", id)
	}
	m.Info = map[string]string{SourceIDKey: "other"}
	if id, _ := Compare(&a, &m); id != Unproven {
		t.Errorf("copy of another version: %v", id)
	}
	x, y := a, b
	sha(&x, h1)
	if id, why := Compare(&x, &y); id != Unproven || !strings.Contains(why, "destination side") {
		t.Errorf("one SHA-1: %v %q", id, why)
	}
	sha(&y, h1)
	if id, _ := Compare(&x, &y); id != Same {
		t.Errorf("equal SHA-1s: %v", id)
	}
	sha(&y, h2)
	if id, _ := Compare(&x, &y); id != Different {
		t.Errorf("other SHA-1s: %v", id)
	}
}
