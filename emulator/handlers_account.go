package emulator

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// ---- the auth pipeline (reference §18): token → expiry → capability →
// bucket allow-list → namePrefix; argument validation comes after. ----

// auth authenticates an account token and checks a capability.
func (c *call) auth(capability string) (*token, error) {
	t, err := c.s.st.lookupToken(c.r.Header.Get("Authorization"), tokAccount)
	if err != nil {
		return nil, err
	}
	c.tok = t
	if capability != "" && !t.key.has(capability) {
		return nil, errUnauthorized(fmt.Sprintf("application key does not have the %s capability", capability))
	}
	return t, nil
}

// account is the id of the account the call's key belongs to (the default
// account for calls without a token).
func (c *call) account() string {
	if c.tok != nil {
		return c.tok.key.Account
	}
	return c.s.st.accountID
}

// sees reports whether the key may see bucket b: b is its account's and on
// its allow-list (store.mu may be held).
func (t *token) sees(b *bucket) bool {
	return b.Account == t.key.Account && t.bucketAllowed(b.ID)
}

// bucketAllowed checks the key's bucket allow-list only.
func (t *token) bucketAllowed(id string) bool {
	if t.key.BucketIDs == nil {
		return true
	}
	for _, b := range t.key.BucketIDs {
		if b == id {
			return true
		}
	}
	return false
}

// checkBucket refuses a bucket id outside the key's allow-list, and one of
// another account as if it did not exist (store.mu not held).
func (t *token) checkBucket(st *store, id string) error {
	if !t.bucketAllowed(id) {
		return errUnauthorized("application key is not allowed to access bucket " + id)
	}
	if a := st.bucketAccount(id); a != "" && a != t.key.Account {
		return errNoBucket(id)
	}
	return nil
}

func (t *token) checkName(name string) error {
	if p := t.key.NamePrefix; p != nil && !strings.HasPrefix(name, *p) {
		return errUnauthorized(fmt.Sprintf("application key is restricted to file names starting with %q", *p))
	}
	return nil
}

// checkListPrefix: listing must pass a prefix at least as restrictive as
// the key's.
func (t *token) checkListPrefix(prefix string) error {
	if p := t.key.NamePrefix; p != nil && !strings.HasPrefix(prefix, *p) {
		return errUnauthorized(fmt.Sprintf("application key is restricted to names starting with %q; pass a prefix that starts with it", *p))
	}
	return nil
}

func (t *token) requireUnrestricted() error {
	if t.key.BucketIDs != nil || t.key.NamePrefix != nil {
		return errUnauthorized("this call needs an application key without bucket or name-prefix restrictions")
	}
	return nil
}

func (c *call) checkAccount(p *params, required bool) error {
	id, ok, err := p.str("accountId")
	if err != nil {
		return err
	}
	if !ok {
		if required {
			return errBadRequest("required field accountId is missing")
		}
		return nil
	}
	if id != c.account() {
		return errUnauthorized("accountId does not match the authorized account")
	}
	return nil
}

// ---- b2_authorize_account ----

func opAuthorize(c *call) (any, error) {
	h := c.r.Header.Get("Authorization")
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return nil, errUnauthorized("b2_authorize_account needs HTTP Basic authorization with the application key id and key")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return nil, errBadRequest("malformed Basic authorization header")
	}
	id, secret, _ := strings.Cut(string(raw), ":")
	st := c.s.st
	k, names := st.key(id)
	var allowed []map[string]any
	for i, n := range names {
		m := map[string]any{"id": k.BucketIDs[i], "name": nil}
		if n != "" {
			m["name"] = n
		}
		allowed = append(allowed, m)
	}
	if k == nil || k.Secret != secret {
		return nil, errUnauthorized("invalid application key id or key")
	}
	if k.Expires != 0 && st.nowMs() >= k.Expires {
		return nil, errUnauthorized("application key has expired")
	}
	if len(k.BucketIDs) > 1 && c.v < 4 {
		return nil, errCode(401, "unsupported", "this application key is restricted to several buckets and can only be used with /b2api/v4")
	}
	t := &token{kind: tokAccount, key: k}
	tok := st.issueToken(t)
	c.tok = t
	base := c.baseURL()
	var expiry any
	if k.Expires != 0 {
		expiry = k.Expires
	}
	opts := st.opts
	var bucketID, bucketName any
	if len(allowed) == 1 {
		bucketID, bucketName = allowed[0]["id"], allowed[0]["name"]
	}
	prefix := any(nil)
	if k.NamePrefix != nil {
		prefix = *k.NamePrefix
	}
	resp := map[string]any{
		"accountId":                         k.Account,
		"authorizationToken":                tok,
		"applicationKeyExpirationTimestamp": expiry,
	}
	switch c.v {
	case 1, 2:
		resp["allowed"] = map[string]any{"bucketId": bucketID, "bucketName": bucketName, "capabilities": k.Caps, "namePrefix": prefix}
		resp["apiUrl"] = base
		resp["downloadUrl"] = base
		resp["s3ApiUrl"] = base
		resp["recommendedPartSize"] = opts.RecommendedPartSize
		resp["absoluteMinimumPartSize"] = opts.AbsoluteMinimumPartSize
		resp["minimumPartSize"] = opts.RecommendedPartSize
	case 3:
		resp["apiInfo"] = map[string]any{"storageApi": map[string]any{
			"absoluteMinimumPartSize": opts.AbsoluteMinimumPartSize, "apiUrl": base, "bucketId": bucketID,
			"bucketName": bucketName, "capabilities": k.Caps, "downloadUrl": base, "infoType": "storageApi",
			"namePrefix": prefix, "recommendedPartSize": opts.RecommendedPartSize, "s3ApiUrl": base,
		}}
	default:
		var buckets any
		if k.BucketIDs != nil {
			buckets = allowed
			if allowed == nil {
				buckets = []any{}
			}
		}
		resp["apiInfo"] = map[string]any{"storageApi": map[string]any{
			"absoluteMinimumPartSize": opts.AbsoluteMinimumPartSize, "apiUrl": base, "downloadUrl": base,
			"recommendedPartSize": opts.RecommendedPartSize, "s3ApiUrl": base,
			"allowed": map[string]any{"buckets": buckets, "capabilities": k.Caps, "namePrefix": prefix},
		}}
	}
	return resp, nil
}

// ---- keys ----

func opCreateKey(c *call) (any, error) {
	t, p, err := c.adminArgs("writeKeys")
	if err != nil {
		return nil, err
	}
	if err := c.checkAccount(p, true); err != nil {
		return nil, err
	}
	caps, ok, err := p.strList("capabilities")
	if err != nil {
		return nil, err
	}
	if !ok || len(caps) == 0 {
		return nil, errBadRequest("capabilities must be a non-empty list")
	}
	seen := map[string]bool{}
	var capsOut []string
	for _, cp := range caps {
		if !knownCaps[cp] {
			return nil, errBadRequest(fmt.Sprintf("unknown capability %q", cp))
		}
		if !seen[cp] {
			seen[cp] = true
			capsOut = append(capsOut, cp)
		}
	}
	name, err := p.reqStr("keyName")
	if err != nil {
		return nil, err
	}
	if err := validKeyName(name); err != nil {
		return nil, err
	}
	var expires int64
	if d, ok, err := p.int("validDurationInSeconds"); err != nil {
		return nil, err
	} else if ok {
		if d <= 0 || d >= 86_400_000 {
			return nil, errBadRequest("validDurationInSeconds must be between 1 and 86,399,999 (under 1000 days)")
		}
		expires = c.s.st.nowMs() + d*1000
	}
	var bucketIDs []string
	if c.v >= 4 {
		if p.has("bucketId") {
			return nil, errBadRequest("b2api/v4 b2_create_key takes bucketIds (a list), not bucketId")
		}
		ids, ok, err := p.strList("bucketIds")
		if err != nil {
			return nil, err
		}
		if ok {
			if len(ids) == 0 {
				return nil, errBadRequest("bucketIds must not be empty; omit it (or send null) for an unrestricted key")
			}
			bucketIDs = ids
		}
	} else {
		if p.has("bucketIds") {
			return nil, errBadRequest("bucketIds (several buckets) needs /b2api/v4; use bucketId")
		}
		id, ok, err := p.str("bucketId")
		if err != nil {
			return nil, err
		}
		if ok {
			bucketIDs = []string{id}
		}
	}
	var prefix *string
	if s, ok, err := p.str("namePrefix"); err != nil {
		return nil, err
	} else if ok {
		prefix = &s
	}
	if bucketIDs != nil {
		for _, cp := range capsOut {
			if !bucketLegalCaps[cp] {
				return nil, errBadRequest(fmt.Sprintf("capability %s is not allowed on a key restricted to buckets", cp))
			}
		}
	}
	k := &appKey{Secret: "K00" + randHex(15), Name: name, Caps: capsOut, NamePrefix: prefix,
		Expires: expires, Account: t.key.Account, capSet: capSet(capsOut)}
	if err := c.s.st.createKey(k, bucketIDs); err != nil {
		return nil, err
	}
	return c.keyObject(k, true), nil
}

func opListKeys(c *call) (any, error) {
	_, p, err := c.adminArgs("listKeys")
	if err != nil {
		return nil, err
	}
	if err := c.checkAccount(p, true); err != nil {
		return nil, err
	}
	max, _, err := p.int("maxKeyCount")
	if err != nil {
		return nil, err
	}
	if max == 0 {
		max = 100
	}
	if max < 1 || max > 10000 {
		return nil, errCode(400, "out_of_range", "maxKeyCount must be between 1 and 10000")
	}
	start, err := p.optStr("startApplicationKeyId")
	if err != nil {
		return nil, err
	}
	ks := c.s.st.keyList(func(k *appKey) bool {
		return k.Account == c.account() && k.ID >= start && (c.v >= 4 || len(k.BucketIDs) <= 1)
	})
	var next any
	if int64(len(ks)) > max {
		next = ks[max].ID
		ks = ks[:max]
	}
	out := make([]any, 0, len(ks))
	for _, k := range ks {
		out = append(out, c.keyObject(k, false))
	}
	c.units = billed(len(out))
	return map[string]any{"keys": out, "nextApplicationKeyId": next}, nil
}

func billed(n int) int64 {
	if n <= 1000 {
		return 1
	}
	return int64((n + 999) / 1000)
}

func opDeleteKey(c *call) (any, error) {
	_, p, err := c.adminArgs("deleteKeys")
	if err != nil {
		return nil, err
	}
	id, err := p.reqStr("applicationKeyId")
	if err != nil {
		return nil, err
	}
	k, err := c.s.st.deleteKey(c.account(), id, func(k *appKey) error {
		if c.v < 4 && len(k.BucketIDs) > 1 {
			return errBadRequest("keys restricted to several buckets can only be deleted with /b2api/v4")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c.keyObject(k, false), nil
}

// authArgs is the common preamble of a native call: authenticate the account
// token and check capability (auth), then parse the JSON body.
func (c *call) authArgs(capability string) (*token, *params, error) {
	t, err := c.auth(capability)
	if err != nil {
		return nil, nil, err
	}
	p, err := c.args()
	if err != nil {
		return nil, nil, err
	}
	return t, p, nil
}

// adminArgs is authArgs for the account-level calls (keys, bucket
// create/update/delete): the key must also be unrestricted, checked before
// the body is parsed.
func (c *call) adminArgs(capability string) (*token, *params, error) {
	t, err := c.auth(capability)
	if err != nil {
		return nil, nil, err
	}
	if err := t.requireUnrestricted(); err != nil {
		return nil, nil, err
	}
	p, err := c.args()
	if err != nil {
		return nil, nil, err
	}
	return t, p, nil
}

// bucketArg reads the required bucketId field and checks it against the
// key's bucket allow-list; whether the bucket exists is the caller's check.
func (t *token) bucketArg(st *store, p *params) (string, error) {
	id, err := p.reqStr("bucketId")
	if err != nil {
		return "", err
	}
	if err := t.checkBucket(st, id); err != nil {
		return "", err
	}
	return id, nil
}

// bucketArgs is authArgs followed by bucketArg.
func (c *call) bucketArgs(capability string) (*token, *params, string, error) {
	t, p, err := c.authArgs(capability)
	if err != nil {
		return nil, nil, "", err
	}
	id, err := t.bucketArg(c.s.st, p)
	if err != nil {
		return nil, nil, "", err
	}
	return t, p, id, nil
}

// bucketFileArgs is the preamble of the calls naming a file in a bucket
// (hide_file, start_large_file): bucketArgs, then the required fileName
// checked against the key's namePrefix and then validated.
func (c *call) bucketFileArgs(capability string) (t *token, p *params, bucketID, name string, err error) {
	t, p, bucketID, err = c.bucketArgs(capability)
	if err != nil {
		return nil, nil, "", "", err
	}
	name, err = p.reqStr("fileName")
	if err != nil {
		return nil, nil, "", "", err
	}
	if err := t.checkName(name); err != nil {
		return nil, nil, "", "", err
	}
	if err := validFileName(name); err != nil {
		return nil, nil, "", "", err
	}
	return t, p, bucketID, name, nil
}

// fileIDArgs is authArgs followed by fileArg on the fileId field.
func (c *call) fileIDArgs(capability string) (t *token, p *params, fid, bid string, id uint64, err error) {
	t, p, err = c.authArgs(capability)
	if err != nil {
		return nil, nil, "", "", 0, err
	}
	fid, bid, id, err = c.fileArg(p, t, "fileId")
	if err != nil {
		return nil, nil, "", "", 0, err
	}
	return t, p, fid, bid, id, nil
}
