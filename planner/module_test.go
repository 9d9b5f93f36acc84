package planner

import "testing"

func TestSplitModule(t *testing.T) {
	tests := []struct{ in, mod, res string }{
		{"bucket.x", "", "bucket.x"},
		{`bucket.x["a.b"]`, "", `bucket.x["a.b"]`},
		{"module.site.bucket.x", "module.site", "bucket.x"},
		{`module.site["a.b"].module.logs.bucket.x["k"]`, `module.site["a.b"].module.logs`, `bucket.x["k"]`},
		{`module.site["q\"].x"].key.k`, `module.site["q\"].x"]`, `key.k`},
		{"module.site", "module.site", ""},
		{`module.site["a"]`, `module.site["a"]`, ""},
	}
	for _, tt := range tests {
		mod, res := SplitModule(tt.in)
		if mod != tt.mod || res != tt.res {
			t.Errorf("SplitModule(%s) = %q, %q; want %q, %q", tt.in, mod, res, tt.mod, tt.res)
		}
	}
	if name, idx, has := splitAddress(`module.m["x"].bucket.logs["eu"]`); name != "logs" || idx != "eu" || !has {
		t.Errorf("splitAddress: %s %s %v", name, idx, has)
	}
}
