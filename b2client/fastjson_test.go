package b2client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/b2plan/b2plan/live"
)

// fileObjects are file objects as B2 (or something odd) may send them; the
// lean decoder must agree with encoding/json + versionBuilder.build on all.
var fileObjects = []string{
	`{"accountId":"a","action":"upload","bucketId":"b","contentLength":26,"contentMd5":"0123","contentSha1":"2aae6c35c94fcfb415dbe95f408b9ce91ee846ed","contentType":"text/plain","fileId":"4_zb_f1","fileInfo":{},"fileName":"src/d000/f0000001","fileRetention":{"isClientAuthorizedToRead":true,"value":{"mode":null,"retainUntilTimestamp":null}},"legalHold":{"isClientAuthorizedToRead":true,"value":null},"serverSideEncryption":{"mode":null,"algorithm":null},"uploadTimestamp":1700000000000}`,
	`{"action":"upload","contentLength":5,"contentSha1":"none","contentType":"b2/x-auto","fileId":"x","fileInfo":{"large_file_sha1":"2AAE6C35C94FCFB415DBE95F408B9CE91EE846ED","src_last_modified_millis":"1"},"fileName":"big"}`,
	`{"action":"upload","contentSha1":"unverified:2aae6c35c94fcfb415dbe95f408b9ce91ee846ed","fileId":"x","fileName":"u"}`,
	`{"action":"hide","contentLength":0,"contentSha1":null,"contentType":"application/x-bz-hide-marker","fileId":"h","fileInfo":{},"fileName":"a/b","uploadTimestamp":5}`,
	`{"action":"start","contentSha1":"none","contentType":"text/plain","fileId":"s","fileInfo":{"k":"v"},"fileName":"a/c","fileRetention":{"isClientAuthorizedToRead":false,"value":null},"legalHold":{"isClientAuthorizedToRead":false,"value":null}}`,
	`{"action":"upload","fileId":"r","fileName":"r","fileRetention":{"isClientAuthorizedToRead":true,"value":{"mode":"governance","retainUntilTimestamp":1800000000000}},"legalHold":{"isClientAuthorizedToRead":true,"value":"on"}}`,
	`{"action":"upload","fileId":"r","fileName":"r","fileRetention":{"isClientAuthorizedToRead":true,"value":{"mode":"compliance","retainUntilTimestamp":1}},"legalHold":{"isClientAuthorizedToRead":true,"value":"off"}}`,
	`{"action":"upload","fileId":"r","fileName":"r","fileRetention":null,"legalHold":null,"fileInfo":null}`,
	`{"action":"upload","fileId":"rf","fileName":"rf","replicationStatus":"failed"}`,
	`{"action":"upload","fileId":"rF","fileName":"rF","replicationStatus":"FAILED","contentSha1":"2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"}`,
	`{"action":"upload","fileId":"rp","fileName":"rp","replicationStatus":"pending"}`,
	`{"action":"upload","fileId":"rn","fileName":"rn","replicationStatus":null}`,
	`{"action":"upload","fileId":"re","fileName":"re","replicationStatus":"f\u0061iled"}`,
	`{"action":"folder","fileName":"a/","fileId":null}`,
	`{"action":"\u0066older","fileName":"b/"}`,
	` { "action" : "upload" , "fileId" : "w" , "fileName" : "sp ace\/\"q\u00e9\ud83d\ude00" , "contentLength" : -0 , "x" : [1, 2.5e-3, {"y": [true, false, null]}, "z"] } `,
	`{"action":"upload","fileId":"n","fileName":"naïve/日本","contentType":"text/plain; charset=\"utf-8\""}`,
	`{"action":"upload","fileId":"n","fileName":"bad\xffutf8"}`,
	`{"action":"upload","fileId":"f","FileName":"folded key"}`,
	`{"action":"upload","fileId":"d","fileName":"first","fileName":"duplicate"}`,
	`{"action":"upload","fileId":"d","file\u004eame":"escaped key"}`,
	`{"action":"copy","fileId":"c","fileName":"c","contentLength":12345678901234}`,
	`{"action":"upload","fileId":"t","fileName":"t","contentLength":1.5}`,
	`{"action":"upload","fileId":"t","fileName":"t","contentLength":"12"}`,
	`{"action":"upload","fileId":"t","fileName":7}`,
	`{"action":"upload","fileId":"t","fileName":"t","fileInfo":{"a":null}}`,
	`{"action":"upload","fileId":"t","fileName":"t","fileInfo":{"a":"1","a":"2"}}`,
	`{"action":"upload","fileId":"t","fileName":"t","legalHold":{"isClientAuthorizedToRead":"yes"}}`,
	`{"action":"upload","fileId":"t","fileName":"t","contentLength":99999999999999999999}`,
	`{"action":"upload","fileId":"t","fileName":"t",}`,
	`{"action":"upload","fileId":"t","fileName":"t"`,
	`{"action":"upload","fileId":"t" "fileName":"t"}`,
	`{"action":"upload","fileId":"t","fileName":"t","x":01}`,
	`{"action":"upload","fileId":"t","fileName":"t","x":"\q"}`,
	`null`,
	`[]`,
	`{}`,
}

func refFile(t *testing.T, s string) (live.Version, error) {
	var fj fileJSON
	if err := json.NewDecoder(strings.NewReader(s)).Decode(&fj); err != nil {
		return live.Version{}, err
	}
	return (&versionBuilder{}).build(&fj), nil
}

func TestLeanFileReply(t *testing.T) {
	// The usual shapes take the lean path (no fallback).
	for _, s := range fileObjects[:15] {
		var f fileScan
		if _, err := scanFile([]byte(s), skipWS([]byte(s), 0), &f); err != nil {
			t.Errorf("%s: lean decoding gave up: %v", s, err)
		}
	}
	for _, s := range fileObjects {
		want, werr := refFile(t, s)
		var fr fileReply
		gerr := fr.decodeBytes([]byte(s))
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Errorf("%s: error %v, want %v", s, gerr, werr)
			continue
		}
		if !reflect.DeepEqual(fr.v, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", s, fr.v, want)
		}
		if wantFailed := strings.Contains(strings.ToLower(s), `"failed"`) || strings.Contains(s, `f\u0061iled`); werr == nil && fr.v.ReplicationFailed() != wantFailed {
			t.Errorf("%s: replication failed = %v", s, fr.v.ReplicationFailed())
		}
	}
}

type refPage struct {
	Files    []fileJSON `json:"files"`
	NextName *string    `json:"nextFileName"`
	NextID   *string    `json:"nextFileId"`
}

func refDecodePage(data []byte) ([]live.Version, *string, *string, error) {
	var p refPage
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, nil, nil, err
	}
	vb := &versionBuilder{in: &live.Interner{}}
	out := []live.Version{}
	for i := range p.Files {
		if p.Files[i].Action == "folder" {
			continue
		}
		out = append(out, vb.build(&p.Files[i]))
	}
	return out, p.NextName, p.NextID, nil
}

func TestLeanVersionPage(t *testing.T) {
	var good []string
	for _, s := range fileObjects {
		if _, err := refFile(t, s); err == nil && json.Valid([]byte(s)) && !strings.Contains(s, "1.5") && !strings.Contains(s, `"12"`) && !strings.Contains(s, ":7}") && !strings.Contains(s, `"yes"`) && !strings.Contains(s, "9999999999") && s != "[]" {
			good = append(good, s)
		}
	}
	pages := []string{
		`{"files":[` + strings.Join(good, ",") + `],"nextFileName":"n\u00e9xt","nextFileId":"id"}`,
		`{"nextFileName":null,"files":[],"other":{"a":[1,2]}}`,
		` {"files" : [ ` + strings.Join(good, " , ") + ` ] } `,
		`{}`,
	}
	for _, pg := range pages {
		want, wn, wi, err := refDecodePage([]byte(pg))
		if err != nil {
			t.Fatalf("reference: %v\n%s", err, pg)
		}
		for _, oneByte := range []bool{false, true} {
			p := &versionPage{vb: &versionBuilder{in: &live.Interner{}}}
			var r = bytes.NewReader([]byte(pg))
			var err error
			if oneByte {
				err = p.decodeFrom(iotest.OneByteReader(r))
			} else {
				err = p.decodeFrom(r)
			}
			if err != nil {
				t.Fatalf("decode (one byte %v): %v\n%s", oneByte, err, pg)
			}
			if len(p.files) != len(want) {
				t.Fatalf("got %d versions, want %d", len(p.files), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(p.files[i], want[i]) {
					t.Errorf("version %d:\n got %+v\nwant %+v", i, p.files[i], want[i])
				}
			}
			if !reflect.DeepEqual(p.nextName, wn) || !reflect.DeepEqual(p.nextID, wi) {
				t.Errorf("cursor %v %v, want %v %v", p.nextName, p.nextID, wn, wi)
			}
		}
	}
	// Names shared by consecutive versions.
	p := &versionPage{vb: &versionBuilder{in: &live.Interner{}}}
	if err := p.decodeFrom(strings.NewReader(`{"files":[{"fileId":"1","fileName":"same"},{"fileId":"2","fileName":"same"}]}`)); err != nil {
		t.Fatal(err)
	}
	if len(p.files) != 2 || strings.Compare(p.files[0].Name, p.files[1].Name) != 0 {
		t.Fatalf("%+v", p.files)
	}
	// Malformed pages fail.
	for _, bad := range []string{``, `{"files":[{"fileId":"1"}`, `{"files":[{"fileId":"1"},]}`, `{"files":[{"fileId":"1"}]`, `{"files":null}`, `{"files":[{"fileId":"1" "x":1}]}`, `[1]`, `{"files":[],}`} {
		p := &versionPage{vb: &versionBuilder{}}
		if err := p.decodeFrom(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func benchPage(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"files":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"accountId":"0123456789ab","action":"upload","bucketId":"0123456789abcdef01234567","contentLength":26,"contentMd5":"0123456789abcdef0123456789abcdef","contentSha1":"2aae6c35c94fcfb415dbe95f408b9ce91ee846ed","contentType":"text/plain","fileId":"4_z0123456789abcdef01234567_f%07d","fileInfo":{},"fileName":"src/d%03d/f%07d","fileRetention":{"isClientAuthorizedToRead":true,"value":{"mode":null,"retainUntilTimestamp":null}},"legalHold":{"isClientAuthorizedToRead":true,"value":null},"serverSideEncryption":{"mode":null,"algorithm":null},"uploadTimestamp":1700000000000}`, i, i%500, i)
	}
	b.WriteString(`],"nextFileName":null,"nextFileId":null}`)
	return b.Bytes()
}

func BenchmarkDecodePageLean(b *testing.B) {
	data := benchPage(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := &versionPage{vb: &versionBuilder{in: &live.Interner{}}}
		if err := p.decodeFrom(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePageEncodingJSON(b *testing.B) {
	data := benchPage(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := refDecodePage(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCopyReplyLean(b *testing.B) {
	data := []byte(fileObjects[0])
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var fr fileReply
		if err := fr.decodeBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCopyReplyEncodingJSON(b *testing.B) {
	data := []byte(fileObjects[0])
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var fj fileJSON
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&fj); err != nil {
			b.Fatal(err)
		}
		_ = (&versionBuilder{}).build(&fj)
	}
}

// FuzzLeanFileReply holds the lean decoder to encoding/json's Decoder (what
// replies were decoded with before, so trailing data is ignored): it never
// panics, it accepts whatever encoding/json accepts, and when both accept they
// give the same version. It may accept a reply that encoding/json refuses only
// for a member b2plan does not use (e.g. a numeric accountId).
func FuzzLeanFileReply(f *testing.F) {
	for _, s := range fileObjects {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fj fileJSON
		werr := json.NewDecoder(bytes.NewReader(data)).Decode(&fj)
		var fr fileReply
		gerr := fr.decodeBytes(data)
		if werr == nil && gerr != nil {
			t.Fatalf("%q: lean decoder refused what encoding/json accepts: %v", data, gerr)
		}
		if werr != nil || gerr != nil {
			return
		}
		if want := (&versionBuilder{}).build(&fj); !reflect.DeepEqual(fr.v, want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", data, fr.v, want)
		}
	})
}

// FuzzLeanVersionPage: the streaming page decoder never panics, and when it
// and encoding/json both accept a page they yield the same versions and
// cursor, whether the page arrives whole or one byte at a time. (It is
// stricter than encoding/json on shapes B2 never sends, e.g. "files": null.)
func FuzzLeanVersionPage(f *testing.F) {
	f.Add([]byte(`{"files":[` + fileObjects[0] + `,` + fileObjects[3] + `],"nextFileName":"n","nextFileId":"i"}`))
	f.Add([]byte(`{"files":[],"nextFileName":null}`))
	f.Add(benchPage(3))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wn, wi, werr := refDecodePage(data)
		for _, oneByte := range []bool{false, true} {
			p := &versionPage{vb: &versionBuilder{in: &live.Interner{}}}
			var r io.Reader = bytes.NewReader(data)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			if werr != nil || p.decodeFrom(r) != nil {
				continue
			}
			if len(p.files) != len(want) {
				t.Fatalf("%q: %d versions, want %d", data, len(p.files), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(p.files[i], want[i]) {
					t.Fatalf("%q: version %d:\n got %+v\nwant %+v", data, i, p.files[i], want[i])
				}
			}
			if !reflect.DeepEqual(p.nextName, wn) || !reflect.DeepEqual(p.nextID, wi) {
				t.Fatalf("%q: cursor %v %v, want %v %v", data, p.nextName, p.nextID, wn, wi)
			}
		}
	})
}
