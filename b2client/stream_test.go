package b2client

import (
	"context"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/b2plan/b2plan/emulator"
	"github.com/b2plan/b2plan/live"
)

// TestListRange: a range listing, page by page, is exactly the part of the
// whole listing (Observe) with names in [start, end), across native pages
// of 10,000 versions, over the native API and over S3 (where each page is
// joined with ListObjectVersions of its names).
func TestListRange(t *testing.T) {
	for _, s3 := range []bool{false, true} {
		name := "native"
		if s3 {
			name = "s3"
		}
		t.Run(name, func(t *testing.T) {
			tg := newEmulatorTargetAPI(t, emulator.Options{}, s3)
			t.Cleanup(func() { tg.cleanup(t) })
			ctx := context.Background()
			b := tg.bucket(t, BucketSpec{})
			seed(t, tg.m, b.Name, "p/", 10300, 8)
			seed(t, tg.m, b.Name, "q/", 3, 1) // outside the prefix
			for _, n := range []string{"p/f" + pad(5), "p/f" + pad(9999), "p/f" + pad(10000)} {
				if _, err := tg.m.Upload(ctx, b.Name, n, "text/plain", []byte("v2"), nil); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tg.m.HideFile(ctx, b.ID, "p/f"+pad(7)); err != nil {
				t.Fatal(err)
			}
			all := tg.listing(t, b.Name, "p/").Versions
			for _, r := range [][2]string{{"", ""}, {"p/f" + pad(5), "p/f" + pad(8)}, {"p/f" + pad(9990), "p/f" + pad(10002)}, {"p/f" + pad(10000), ""}, {"p/zzz", ""}, {"", "p/f" + pad(1)}} {
				var want []live.Version
				for _, v := range all {
					if v.Name >= r[0] && (r[1] == "" || v.Name < r[1]) {
						want = append(want, v)
					}
				}
				pg := tg.conn.ListRange(b.Name, b.ID, "p/", r[0], r[1])
				var got []live.Version
				for {
					vs, err := pg.Next(ctx)
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("range %q: %v", r, err)
					}
					got = append(got, vs...)
				}
				if len(got) != len(want) {
					t.Fatalf("range %q: %d versions, want %d", r, len(got), len(want))
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Fatalf("range %q differs (-whole listing +range):\n%s", r, d)
				}
			}
		})
	}
}
