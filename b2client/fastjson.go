package b2client

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/b2plan/b2plan/live"
)

// A lean decoder for B2 file objects (listing pages and single-file
// replies such as b2_copy_file). It reads only the fields live.Version
// needs, straight from the bytes, without reflection and with about two
// allocations per version (its id and name). Anything it does not handle
// exactly like encoding/json would (escaped or case-folded keys, duplicate
// keys, unexpected types, malformed JSON) makes it give up on that object,
// which is then decoded by encoding/json into fileJSON as before: results
// and errors are the same either way.

var (
	// errShort: the data ends inside the value (read more and retry).
	errShort = errors.New("b2client: short JSON")
	// errFallback: decode this value with encoding/json instead.
	errFallback = errors.New("b2client: JSON fallback")
)

const maxJSONDepth = 10000 // as encoding/json

func skipWS(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString scans the string starting at d[i] == '"'. It returns the
// bounds of its contents, the index after the closing quote, and whether
// the contents are plain ASCII without escapes (usable as they are).
func scanString(d []byte, i int) (start, end, next int, plain bool, err error) {
	if i >= len(d) {
		return 0, 0, 0, false, errShort
	}
	if d[i] != '"' {
		return 0, 0, 0, false, errFallback
	}
	start = i + 1
	plain = true
	for j := start; j < len(d); j++ {
		c := d[j]
		switch {
		case c == '"':
			return start, j, j + 1, plain, nil
		case c == '\\':
			plain = false
			j++
			if j >= len(d) {
				return 0, 0, 0, false, errShort
			}
			switch d[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(d) {
					return 0, 0, 0, false, errShort
				}
				for k := j + 1; k <= j+4; k++ {
					if !isHex(d[k]) {
						return 0, 0, 0, false, errFallback
					}
				}
				j += 4
			default:
				return 0, 0, 0, false, errFallback
			}
		case c < 0x20:
			return 0, 0, 0, false, errFallback
		case c >= 0x80:
			plain = false
		}
	}
	return 0, 0, 0, false, errShort
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unquote returns the string scanned by scanString.
func unquote(d []byte, start, end int, plain bool) (string, error) {
	if plain {
		return string(d[start:end]), nil
	}
	var s string
	if err := json.Unmarshal(d[start-1:end+1], &s); err != nil {
		return "", errFallback
	}
	return s, nil
}

// scanNumber scans a JSON number (strict grammar) starting at d[i].
func scanNumber(d []byte, i int) (int, error) {
	j := i
	if j < len(d) && d[j] == '-' {
		j++
	}
	if j >= len(d) {
		return 0, errShort
	}
	switch {
	case d[j] == '0':
		j++
	case '1' <= d[j] && d[j] <= '9':
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
	default:
		return 0, errFallback
	}
	if j < len(d) && d[j] == '.' {
		j++
		k := j
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
		if j == k {
			if j >= len(d) {
				return 0, errShort
			}
			return 0, errFallback
		}
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		j++
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		k := j
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
		if j == k {
			if j >= len(d) {
				return 0, errShort
			}
			return 0, errFallback
		}
	}
	if j >= len(d) {
		// The number may go on in the data not read yet.
		return 0, errShort
	}
	return j, nil
}

func scanLiteral(d []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(d) {
			return 0, errShort
		}
		if d[i+k] != lit[k] {
			return 0, errFallback
		}
	}
	return i + len(lit), nil
}

// skipValue scans any JSON value starting at d[i] (after whitespace).
func skipValue(d []byte, i, depth int) (int, error) {
	i = skipWS(d, i)
	if i >= len(d) {
		return 0, errShort
	}
	switch c := d[i]; {
	case c == '"':
		_, _, next, _, err := scanString(d, i)
		return next, err
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return 0, errFallback
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(d, i+1)
		if i >= len(d) {
			return 0, errShort
		}
		if d[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				_, _, next, _, err := scanString(d, i)
				if err != nil {
					return 0, err
				}
				i = skipWS(d, next)
				if i >= len(d) {
					return 0, errShort
				}
				if d[i] != ':' {
					return 0, errFallback
				}
				i++
			}
			next, err := skipValue(d, i, depth+1)
			if err != nil {
				return 0, err
			}
			i = skipWS(d, next)
			if i >= len(d) {
				return 0, errShort
			}
			switch d[i] {
			case ',':
				i = skipWS(d, i+1)
			case closer:
				return i + 1, nil
			default:
				return 0, errFallback
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return scanNumber(d, i)
	case c == 't':
		return scanLiteral(d, i, "true")
	case c == 'f':
		return scanLiteral(d, i, "false")
	case c == 'n':
		return scanLiteral(d, i, "null")
	}
	return 0, errFallback
}

// scanInt64 scans an integer (or null) the way encoding/json decodes it
// into an int64; other numbers fall back.
func scanInt64(d []byte, i int) (v int64, null bool, next int, err error) {
	if i < len(d) && d[i] == 'n' {
		next, err = scanLiteral(d, i, "null")
		return 0, true, next, err
	}
	next, err = scanNumber(d, i)
	if err != nil {
		return 0, false, 0, err
	}
	v, perr := strconv.ParseInt(string(d[i:next]), 10, 64)
	if perr != nil {
		return 0, false, 0, errFallback
	}
	return v, false, next, nil
}

// scanBool scans true, false or null.
func scanBool(d []byte, i int) (v bool, next int, err error) {
	if i >= len(d) {
		return false, 0, errShort
	}
	switch d[i] {
	case 't':
		next, err = scanLiteral(d, i, "true")
		return true, next, err
	case 'f':
		next, err = scanLiteral(d, i, "false")
		return false, next, err
	case 'n':
		next, err = scanLiteral(d, i, "null")
		return false, next, err
	}
	return false, 0, errFallback
}

// strField is a string value as scanned: bounds into the data, or null. The
// zero value (end == 0: a scanned string always follows a quote) is an absent
// member, which decodes like null.
type strField struct {
	start, end int
	plain      bool
	null       bool
}

func scanStrField(d []byte, i int) (strField, int, error) {
	if i >= len(d) {
		return strField{}, 0, errShort
	}
	if d[i] == 'n' {
		next, err := scanLiteral(d, i, "null")
		return strField{null: true}, next, err
	}
	s, e, next, plain, err := scanString(d, i)
	return strField{start: s, end: e, plain: plain}, next, err
}

// scanStrInto scans a string member into *dst; null leaves *dst as it was
// (the caller's default), as encoding/json does for a null string.
func scanStrInto(d []byte, i int, dst *strField) (int, error) {
	s, next, err := scanStrField(d, i)
	if err == nil && !s.null {
		*dst = s
	}
	return next, err
}

func (f strField) bytes(d []byte) []byte { return d[f.start:f.end] }

func (f strField) string(d []byte) (string, error) {
	if f.null || f.end == 0 {
		return "", nil
	}
	return unquote(d, f.start, f.end, f.plain)
}

// objectKeys walks the members of the object starting at d[i] == '{',
// calling member with each plain key and the index of its value; member
// returns the index after the value. Keys that are not plain ASCII fall
// back (encoding/json would unescape them before matching).
func objectKeys(d []byte, i int, member func(key []byte, at int) (int, error)) (int, error) {
	i = skipWS(d, i)
	if i >= len(d) {
		return 0, errShort
	}
	if d[i] != '{' {
		return 0, errFallback
	}
	i = skipWS(d, i+1)
	if i >= len(d) {
		return 0, errShort
	}
	if d[i] == '}' {
		return i + 1, nil
	}
	for {
		ks, ke, next, plain, err := scanString(d, i)
		if err != nil {
			return 0, err
		}
		if !plain {
			return 0, errFallback
		}
		i = skipWS(d, next)
		if i >= len(d) {
			return 0, errShort
		}
		if d[i] != ':' {
			return 0, errFallback
		}
		i = skipWS(d, i+1)
		if i >= len(d) {
			return 0, errShort
		}
		if i, err = member(d[ks:ke], i); err != nil {
			return 0, err
		}
		i = skipWS(d, i)
		if i >= len(d) {
			return 0, errShort
		}
		switch d[i] {
		case ',':
			i = skipWS(d, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errFallback
		}
	}
}

// foldsTo reports whether key matches one of known only case-insensitively
// (encoding/json would then decode it into that field).
func foldsTo(key []byte, known []string) bool {
	for _, k := range known {
		if len(k) == len(key) && bytes.EqualFold(key, []byte(k)) {
			return true
		}
	}
	for _, c := range key {
		if c >= 0x80 { // Unicode folding may change lengths: be safe
			return true
		}
	}
	return false
}

var (
	fileKeys      = []string{"fileId", "fileName", "action", "contentLength", "contentSha1", "contentType", "fileInfo", "uploadTimestamp", "fileRetention", "legalHold", "replicationStatus"}
	wrapperKeys   = []string{"isClientAuthorizedToRead", "value"}
	retentionKeys = []string{"mode", "retainUntilTimestamp"}
)

// fileScan is one file object as scanned; string fields point into the data.
type fileScan struct {
	id, name, action, sha1, ctype strField
	size, uploaded                int64
	info                          map[string]string
	hasRet, retReadable, retValue bool
	retMode                       strField
	hasRetUntil                   bool
	retUntil                      int64
	hasHold, holdReadable         bool
	holdValue                     strField
	repl                          strField // replicationStatus
}

// scanFile scans the file object starting at d[i].
func scanFile(d []byte, i int, f *fileScan) (int, error) {
	*f = fileScan{id: strField{null: true}, name: strField{null: true}, action: strField{null: true},
		sha1: strField{null: true}, ctype: strField{null: true}, repl: strField{null: true}}
	var seen uint16
	return objectKeys(d, i, func(key []byte, at int) (int, error) {
		bit := uint16(0)
		var next int
		var err error
		switch string(key) {
		case "fileId":
			bit = 1
			next, err = scanStrInto(d, at, &f.id)
		case "fileName":
			bit = 2
			next, err = scanStrInto(d, at, &f.name)
		case "action":
			bit = 4
			next, err = scanStrInto(d, at, &f.action)
		case "contentSha1":
			bit = 8
			next, err = scanStrInto(d, at, &f.sha1)
		case "contentType":
			bit = 16
			next, err = scanStrInto(d, at, &f.ctype)
		case "contentLength":
			bit = 32
			f.size, _, next, err = scanInt64(d, at)
		case "uploadTimestamp":
			bit = 64
			f.uploaded, _, next, err = scanInt64(d, at)
		case "fileInfo":
			bit = 128
			next, err = scanInfo(d, at, f)
		case "fileRetention":
			bit = 256
			next, err = scanRetention(d, at, f)
		case "legalHold":
			bit = 512
			next, err = scanHold(d, at, f)
		case "replicationStatus":
			bit = 1024
			next, err = scanStrInto(d, at, &f.repl)
		default:
			if foldsTo(key, fileKeys) {
				return 0, errFallback
			}
			return skipValue(d, at, 1)
		}
		if err != nil {
			return 0, err
		}
		if seen&bit != 0 {
			return 0, errFallback // duplicate key
		}
		seen |= bit
		return next, nil
	})
}

func scanInfo(d []byte, i int, f *fileScan) (int, error) {
	if i < len(d) && d[i] == 'n' {
		return scanLiteral(d, i, "null")
	}
	return objectKeys(d, i, func(key []byte, at int) (int, error) {
		if at >= len(d) {
			return 0, errShort
		}
		if d[at] != '"' {
			return 0, errFallback
		}
		s, e, next, plain, err := scanString(d, at)
		if err != nil {
			return 0, err
		}
		v, err := unquote(d, s, e, plain)
		if err != nil {
			return 0, err
		}
		if f.info == nil {
			f.info = make(map[string]string, 2)
		}
		f.info[string(key)] = v
		return next, nil
	})
}

func scanRetention(d []byte, i int, f *fileScan) (int, error) {
	if i < len(d) && d[i] == 'n' {
		return scanLiteral(d, i, "null")
	}
	f.hasRet = true
	var seen uint8
	return objectKeys(d, i, func(key []byte, at int) (int, error) {
		var bit uint8
		var next int
		var err error
		switch string(key) {
		case "isClientAuthorizedToRead":
			bit = 1
			var b bool
			if b, next, err = scanBool(d, at); err == nil && d[at] != 'n' {
				f.retReadable = b
			}
		case "value":
			bit = 2
			if at < len(d) && d[at] == 'n' {
				next, err = scanLiteral(d, at, "null")
				break
			}
			f.retValue = true
			var vseen uint8
			next, err = objectKeys(d, at, func(key []byte, at int) (int, error) {
				var bit uint8
				var next int
				var err error
				switch string(key) {
				case "mode":
					bit = 1
					f.retMode, next, err = scanStrField(d, at)
				case "retainUntilTimestamp":
					bit = 2
					var null bool
					f.retUntil, null, next, err = scanInt64(d, at)
					f.hasRetUntil = !null
				default:
					if foldsTo(key, retentionKeys) {
						return 0, errFallback
					}
					return skipValue(d, at, 3)
				}
				if err != nil {
					return 0, err
				}
				if vseen&bit != 0 {
					return 0, errFallback
				}
				vseen |= bit
				return next, nil
			})
		default:
			if foldsTo(key, wrapperKeys) {
				return 0, errFallback
			}
			return skipValue(d, at, 2)
		}
		if err != nil {
			return 0, err
		}
		if seen&bit != 0 {
			return 0, errFallback
		}
		seen |= bit
		return next, nil
	})
}

func scanHold(d []byte, i int, f *fileScan) (int, error) {
	if i < len(d) && d[i] == 'n' {
		return scanLiteral(d, i, "null")
	}
	f.hasHold = true
	f.holdValue = strField{null: true}
	var seen uint8
	return objectKeys(d, i, func(key []byte, at int) (int, error) {
		var bit uint8
		var next int
		var err error
		switch string(key) {
		case "isClientAuthorizedToRead":
			bit = 1
			var b bool
			if b, next, err = scanBool(d, at); err == nil && d[at] != 'n' {
				f.holdReadable = b
			}
		case "value":
			bit = 2
			f.holdValue, next, err = scanStrField(d, at)
		default:
			if foldsTo(key, wrapperKeys) {
				return 0, errFallback
			}
			return skipValue(d, at, 2)
		}
		if err != nil {
			return 0, err
		}
		if seen&bit != 0 {
			return 0, errFallback
		}
		seen |= bit
		return next, nil
	})
}

// buildScanned is versionBuilder.build for a scanned file object.
func (vb *versionBuilder) buildScanned(d []byte, f *fileScan) (live.Version, error) {
	v := live.Version{Size: f.size, Uploaded: f.uploaded}
	var err error
	if v.ID, err = f.id.string(d); err != nil {
		return v, err
	}
	if f.name.plain && string(f.name.bytes(d)) == vb.lastName {
		v.Name = vb.lastName
	} else {
		if v.Name, err = f.name.string(d); err != nil {
			return v, err
		}
		if v.Name == vb.lastName {
			v.Name = vb.lastName
		}
		vb.lastName = v.Name
	}
	switch {
	case f.ctype.null:
	case f.ctype.plain:
		v.ContentType = vb.contentType(f.ctype.bytes(d))
	default:
		ct, err := f.ctype.string(d)
		if err != nil {
			return v, err
		}
		if vb.in != nil {
			ct = vb.in.Intern(ct)
		}
		v.ContentType = ct
	}
	if f.action.plain || f.action.null {
		v.Action, _ = live.ParseAction(string(f.action.bytes(d)))
	} else {
		a, err := f.action.string(d)
		if err != nil {
			return v, err
		}
		v.Action, _ = live.ParseAction(a)
	}
	if len(f.info) > 0 {
		v.Info = f.info
	}
	ok := false
	switch {
	case f.sha1.plain:
		ok = setSHA1(&v, f.sha1.bytes(d), false)
	case !f.sha1.null:
		s, err := f.sha1.string(d)
		if err != nil {
			return v, err
		}
		ok = v.SetSHA1Hex(s, false)
	}
	if !ok {
		if s, ok := f.info["large_file_sha1"]; ok {
			v.SetSHA1Hex(s, true)
		}
	}
	if f.hasRet {
		switch {
		case !f.retReadable:
			v.Retention = live.RetentionUnknown
		case f.retValue:
			if !f.retMode.null {
				m, err := f.retMode.string(d)
				if err != nil {
					return v, err
				}
				v.Retention = live.ParseRetentionMode(m)
			}
			if f.hasRetUntil {
				v.RetainUntil = f.retUntil
			}
		}
	}
	if !f.repl.null {
		st, err := f.repl.string(d)
		if err != nil {
			return v, err
		}
		setReplicationStatus(&v, st)
	}
	if f.hasHold {
		switch {
		case !f.holdReadable:
			v.LegalHold = live.LegalHoldUnknown
		case !f.holdValue.null:
			h, err := f.holdValue.string(d)
			if err != nil {
				return v, err
			}
			if h == "on" {
				v.LegalHold = live.LegalHoldOn
			}
		}
	}
	return v, nil
}

// setReplicationStatus records a version's replicationStatus; only "failed" (B2's docs
// spell it in capitals, b2sdk and b2local in lower case) is kept, as a flag.
func setReplicationStatus(v *live.Version, status string) {
	if strings.EqualFold(status, "failed") {
		v.Flags |= live.FlagReplicationFailed
	}
}

// setSHA1 is Version.SetSHA1Hex on bytes, without allocating.
func setSHA1(v *live.Version, b []byte, fromLargeFileInfo bool) bool {
	if len(b) != 40 {
		return false
	}
	var sum [20]byte
	if _, err := hex.Decode(sum[:], b); err != nil {
		return false
	}
	v.SHA1 = sum
	v.Flags |= live.FlagSHA1
	if fromLargeFileInfo {
		v.Flags |= live.FlagLargeFileSHA1
	}
	return true
}

// contentType returns the (interned) content type without allocating for
// one seen before.
func (vb *versionBuilder) contentType(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if vb.in == nil {
		return string(b)
	}
	if s, ok := vb.ctypes[string(b)]; ok {
		return s
	}
	s := vb.in.Intern(string(b))
	if vb.ctypes == nil {
		vb.ctypes = make(map[string]string)
	}
	if len(vb.ctypes) < 1024 {
		vb.ctypes[s] = s
	}
	return s
}

// decodeFile decodes the file object at d[i] into a Version: lean when it
// can, else with encoding/json into fileJSON. It returns the index after
// the object, and folder = true for a folder entry (not built).
func (vb *versionBuilder) decodeFile(d []byte, i int, eof bool) (v live.Version, folder bool, next int, err error) {
	var f fileScan
	next, err = scanFile(d, i, &f)
	if err == nil {
		if isFolder(d, &f) {
			return live.Version{}, true, next, nil
		}
		if v, err = vb.buildScanned(d, &f); err == nil {
			return v, false, next, nil
		}
	}
	if err == errShort && !eof {
		return v, false, 0, errShort
	}
	// Fall back to encoding/json on this one object.
	end, serr := skipValue(d, i, 1)
	if serr == errShort && eof {
		serr = io.ErrUnexpectedEOF
	}
	if serr == errShort {
		return v, false, 0, errShort
	}
	if serr != nil {
		return v, false, 0, syntaxError(d[i:], serr)
	}
	var fj fileJSON
	if err := json.Unmarshal(d[i:end], &fj); err != nil {
		return v, false, 0, err
	}
	if fj.Action == "folder" {
		return live.Version{}, true, end, nil
	}
	return vb.build(&fj), false, end, nil
}

func isFolder(d []byte, f *fileScan) bool {
	if f.action.plain || f.action.null {
		return string(f.action.bytes(d)) == "folder"
	}
	a, _ := f.action.string(d)
	return a == "folder"
}

// syntaxError returns encoding/json's error for malformed data, or fallback.
func syntaxError(d []byte, fallback error) error {
	var x any
	if err := json.Unmarshal(d, &x); err != nil {
		return err
	}
	return fallback
}

// bufPool holds response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// readAllInto appends r's data to buf.
func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// fileReply is a reply holding one file object (b2_copy_file,
// b2_hide_file), decoded leanly into a Version.
type fileReply struct {
	v live.Version
}

func (fr *fileReply) decodeBytes(d []byte) error {
	vb := versionBuilder{}
	var f fileScan
	i := skipWS(d, 0)
	if _, err := scanFile(d, i, &f); err == nil {
		if v, err := vb.buildScanned(d, &f); err == nil {
			fr.v = v
			return nil
		}
	}
	// As before: json.Decoder decoding one value into fileJSON.
	var fj fileJSON
	if err := json.NewDecoder(bytes.NewReader(d)).Decode(&fj); err != nil {
		return err
	}
	fr.v = vb.build(&fj)
	return nil
}
