package planner

import (
	"bytes"
	"strings"
	"testing"
)

// TestChunkedPlanFile: a chunked move round-trips through the plan file
// (1.4) with its chunks and list totals; a file whose chunks do not tile
// the prefix in order, or carry bad digests, is refused as corrupt.
func TestChunkedPlanFile(t *testing.T) {
	d := strings.Repeat("ab", 32)
	mk := func(chunks []Chunk) *Plan {
		return &Plan{FormatVersion: FormatVersion, ID: "x", Moves: []*Move{{Address: "move.m", Name: "m", Bucket: "b", ToBucket: "b",
			From: "a/", To: "z/", Versions: "latest", Source: "delete", OnConflict: "fail", Objects: 3,
			Chunks: chunks, ConflictCount: 1500, Conflicts: []Conflict{{Source: "a/x", Dest: "z/x", Resolution: "skip"}}}}}
	}
	good := []Chunk{{Lo: "", Hi: "m", Names: 2, Versions: 2, Objects: 2, Digest: d, DestDigest: d},
		{Lo: "m", Names: 1, Versions: 1, Objects: 1, Digest: d, DestDigest: d}}
	var buf bytes.Buffer
	if err := Encode(&buf, mk(good)); err != nil {
		t.Fatal(err)
	}
	p, err := Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m := p.Moves[0]
	if !m.Chunked() || len(m.Chunks) != 2 || m.Chunks[1].Lo != "m" || m.NConflicts() != 1500 || !m.HasOps() || m.Action() != MoveObjects {
		t.Fatalf("read back: %+v", m)
	}
	for name, bad := range map[string][]Chunk{
		"gap":          {{Lo: "", Hi: "m", Digest: d, DestDigest: d}, {Lo: "n", Digest: d, DestDigest: d}},
		"not ordered":  {{Lo: "", Hi: "m", Digest: d, DestDigest: d}, {Lo: "m", Hi: "c", Digest: d, DestDigest: d}, {Lo: "c", Digest: d, DestDigest: d}},
		"open middle":  {{Lo: "", Digest: d, DestDigest: d}, {Lo: "m", Digest: d, DestDigest: d}},
		"late start":   {{Lo: "b", Digest: d, DestDigest: d}},
		"short digest": {{Lo: "", Digest: "ab", DestDigest: d}},
	} {
		buf.Reset()
		if err := Encode(&buf, mk(bad)); err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(bytes.NewReader(buf.Bytes())); err == nil || !strings.Contains(err.Error(), "corrupt plan file") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
