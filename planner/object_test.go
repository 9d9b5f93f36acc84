package planner

import (
	"strings"
	"testing"

	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/live"
)

// TestPlanObjects compares a declared object with the newest live version of its name.
func TestPlanObjects(t *testing.T) {
	const sha = "0100000000000000000000000000000000000000" // ver(…, 1)
	same := ver("robots.txt", "v1", 5, 1)
	same.Info = map[string]string{"Team": "web", "large_file_sha1": sha}
	older := ver("robots.txt", "v0", 5, 9)
	noSHA := ver("robots.txt", "v2", 5, 0)
	other := ver("robots.txt", "v3", 5, 7)
	noSHA.Info, other.Info = map[string]string{"team": "web"}, map[string]string{"team": "web"}
	for _, tc := range []struct {
		name    string
		vs      []live.Version
		replace bool
		want    string // action and changed attributes
	}{
		{"equal (newest wins, large_file_sha1 ignored)", []live.Version{same, older}, false, "no-op"},
		{"absent", nil, false, "create"},
		{"hidden", []live.Version{hide("robots.txt", "h1"), same}, false, "create"},
		{"other content", []live.Version{other}, false, "update [sha1]"},
		{"no SHA-1", []live.Version{noSHA}, false, "update [sha1]"},
		{"-replace", []live.Version{same}, true, "update"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := desired(func(d *config.Desired) {
				d.Buckets = []*config.Bucket{{Address: "bucket.b", Name: "bkt-one"}}
				d.Objects = []*config.Object{{Address: "object.r", Bucket: "bkt-one", Name: "robots.txt", Content: "…",
					ContentType: "text/plain", Info: map[string]string{"team": "web"}, SHA1: sha, Size: 5}}
			})
			lb := liveBucket("bkt-one")
			l := &live.Live{Buckets: []live.Bucket{lb}, Listings: []live.Listing{{BucketName: "bkt-one", BucketID: lb.ID, Prefix: "robots.txt", Versions: tc.vs}}}
			o := opts()
			if tc.replace {
				o.Replace = []string{"object.r"}
			}
			p, diags := Compute(d, l, o)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var got string
			for _, ch := range p.Changes {
				if ch.Address == "object.r" {
					got = ch.Action.String()
					if len(ch.Changed) > 0 {
						got += " [" + strings.Join(ch.Changed, ",") + "]"
					}
				}
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
