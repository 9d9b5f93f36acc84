package emulator

import (
	"fmt"
)

const maxBuckets = 100

type sseReq struct {
	Mode      *string `json:"mode"`
	Algorithm *string `json:"algorithm"`
}

type defRetentionReq struct {
	Mode   *string `json:"mode"`
	Period *struct {
		Duration int64  `json:"duration"`
		Unit     string `json:"unit"`
	} `json:"period"`
}

func parseSSE(r sseReq) (bool, error) {
	if r.Mode == nil {
		return false, nil
	}
	if *r.Mode != "SSE-B2" {
		return false, errBadRequest(fmt.Sprintf("server-side encryption mode %q is not supported (b2local supports SSE-B2)", *r.Mode))
	}
	if r.Algorithm != nil && *r.Algorithm != "AES256" {
		return false, errBadRequest(fmt.Sprintf("encryption algorithm %q is not supported; use AES256", *r.Algorithm))
	}
	return true, nil
}

// sseArg reads an optional server-side encryption object field of a file
// call (false when absent).
func sseArg(p *params, field string) (bool, error) {
	var sr sseReq
	ok, err := p.decode(field, &sr)
	if err != nil || !ok {
		return false, err
	}
	return parseSSE(sr)
}

func parseDefaultRetention(r defRetentionReq) (defaultRetention, error) {
	if r.Mode == nil {
		if r.Period != nil {
			return defaultRetention{}, errBadRequest("defaultRetention period needs a mode")
		}
		return defaultRetention{}, nil
	}
	if *r.Mode != "governance" && *r.Mode != "compliance" {
		return defaultRetention{}, errBadRequest(fmt.Sprintf("defaultRetention mode %q must be governance, compliance or null", *r.Mode))
	}
	if r.Period == nil || r.Period.Duration <= 0 || (r.Period.Unit != "days" && r.Period.Unit != "years") {
		return defaultRetention{}, errBadRequest("defaultRetention needs a period with a positive duration and unit days or years")
	}
	return defaultRetention{Mode: *r.Mode, Period: r.Period.Duration, Unit: r.Period.Unit}, nil
}

// bucketSettings holds the optional fields shared by create and update.
type bucketSettings struct {
	typ       *string
	info      map[string]string
	hasInfo   bool
	cors      []corsRule
	hasCORS   bool
	lifecycle []lifecycleRule
	hasLC     bool
	lock      *bool
	retention *defaultRetention
	sse       *bool
	repl      *replConfig // nil with hasRepl: no replication
	hasRepl   bool
}

func (c *call) parseBucketSettings(p *params, t *token, update bool) (*bucketSettings, error) {
	bs := &bucketSettings{}
	if s, ok, err := p.str("bucketType"); err != nil {
		return nil, err
	} else if ok {
		if s != "allPublic" && s != "allPrivate" {
			return nil, errBadRequest(fmt.Sprintf("bucketType %q must be allPublic or allPrivate", s))
		}
		bs.typ = &s
	} else if !update {
		return nil, errBadRequest("required field bucketType is missing")
	}
	var err error
	if bs.hasInfo, err = p.decode("bucketInfo", &bs.info); err != nil {
		return nil, err
	}
	if bs.hasInfo {
		if err := validBucketInfo(bs.info); err != nil {
			return nil, err
		}
	}
	if bs.hasCORS, err = p.decode("corsRules", &bs.cors); err != nil {
		return nil, err
	}
	if bs.hasCORS {
		if err := validCORS(bs.cors); err != nil {
			return nil, err
		}
	}
	if bs.hasLC, err = p.decode("lifecycleRules", &bs.lifecycle); err != nil {
		return nil, err
	}
	if bs.hasLC {
		if err := validLifecycle(bs.lifecycle); err != nil {
			return nil, err
		}
	}
	if v, ok, err := p.boolean("fileLockEnabled"); err != nil {
		return nil, err
	} else if ok {
		if v && !t.key.has("writeBucketRetentions") {
			return nil, errUnauthorized("enabling Object Lock needs the writeBucketRetentions capability")
		}
		bs.lock = &v
	}
	if update {
		var dr defRetentionReq
		if ok, err := p.decode("defaultRetention", &dr); err != nil {
			return nil, err
		} else if ok {
			if !t.key.has("writeBucketRetentions") {
				return nil, errUnauthorized("defaultRetention needs the writeBucketRetentions capability")
			}
			r, err := parseDefaultRetention(dr)
			if err != nil {
				return nil, err
			}
			bs.retention = &r
		}
	}
	var sr sseReq
	if ok, err := p.decode("defaultServerSideEncryption", &sr); err != nil {
		return nil, err
	} else if ok {
		if !t.key.has("writeBucketEncryption") {
			return nil, errUnauthorized("defaultServerSideEncryption needs the writeBucketEncryption capability")
		}
		v, err := parseSSE(sr)
		if err != nil {
			return nil, err
		}
		bs.sse = &v
	}
	if j, q, ok := p.raw("replicationConfiguration"); ok {
		if !t.key.has("writeBucketReplications") {
			return nil, errUnauthorized("replicationConfiguration needs the writeBucketReplications capability")
		}
		if j == nil {
			j = []byte(q)
		}
		if bs.repl, err = parseReplication(j); err != nil {
			return nil, err
		}
		bs.hasRepl = true
	}
	return bs, nil
}

func (bs *bucketSettings) apply(b *bucket) {
	if bs.typ != nil {
		b.Type = *bs.typ
	}
	if bs.hasInfo {
		b.Info = bs.info
	}
	if bs.hasCORS {
		b.CORS = bs.cors
	}
	if bs.hasLC {
		b.Lifecycle = bs.lifecycle
	}
	if bs.lock != nil && *bs.lock {
		b.Lock = true
	}
	if bs.retention != nil {
		b.Retention = *bs.retention
	}
	if bs.sse != nil {
		b.SSE = *bs.sse
	}
	if bs.hasRepl {
		b.ext.repl = bs.repl
	}
}

func opCreateBucket(c *call) (any, error) {
	t, p, err := c.adminArgs("writeBuckets")
	if err != nil {
		return nil, err
	}
	if err := c.checkAccount(p, true); err != nil {
		return nil, err
	}
	name, err := p.reqStr("bucketName")
	if err != nil {
		return nil, err
	}
	if err := validBucketName(name); err != nil {
		return nil, err
	}
	bs, err := c.parseBucketSettings(p, t, false)
	if err != nil {
		return nil, err
	}
	b := &bucket{Name: name, Revision: 1, Account: t.key.Account}
	bs.apply(b)
	out, err := c.s.st.createBucket(b)
	if err != nil {
		return nil, err
	}
	return c.bucketObject(&out), nil
}

func opUpdateBucket(c *call) (any, error) {
	t, p, err := c.adminArgs("writeBuckets")
	if err != nil {
		return nil, err
	}
	if err := c.checkAccount(p, false); err != nil {
		return nil, err
	}
	id, err := t.bucketArg(c.s.st, p)
	if err != nil {
		return nil, err
	}
	bs, err := c.parseBucketSettings(p, t, true)
	if err != nil {
		return nil, err
	}
	ifRev, hasRev, err := p.int("ifRevisionIs")
	if err != nil {
		return nil, err
	}
	var rev *int64
	if hasRev {
		rev = &ifRev
	}
	out, err := c.s.st.updateBucket(id, bs, rev)
	if err != nil {
		return nil, err
	}
	if bs.hasRepl {
		if err := c.s.st.replicateExisting(id); err != nil {
			return nil, err
		}
	}
	return c.bucketObject(&out), nil
}

var defaultBucketTypes = map[string]bool{"allPublic": true, "allPrivate": true, "snapshot": true}
var knownBucketTypes = map[string]bool{"allPublic": true, "allPrivate": true, "snapshot": true, "restricted": true, "shared": true}

func opListBuckets(c *call) (any, error) {
	t, p, err := c.authArgs("listBuckets")
	if err != nil {
		return nil, err
	}
	if err := c.checkAccount(p, true); err != nil {
		return nil, err
	}
	id, hasID, err := p.str("bucketId")
	if err != nil {
		return nil, err
	}
	name, hasName, err := p.str("bucketName")
	if err != nil {
		return nil, err
	}
	types := defaultBucketTypes
	if ts, ok, err := p.strList("bucketTypes"); err != nil {
		return nil, err
	} else if ok {
		if len(ts) == 0 {
			return nil, errBadRequest("bucketTypes must not be empty")
		}
		types = map[string]bool{}
		for _, ty := range ts {
			if ty == "all" {
				if len(ts) != 1 {
					return nil, errBadRequest(`bucketTypes: "all" cannot be combined with other types`)
				}
				types = knownBucketTypes
				break
			}
			if !knownBucketTypes[ty] {
				return nil, errBadRequest(fmt.Sprintf("unknown bucket type %q", ty))
			}
			types[ty] = true
		}
	}
	st := c.s.st
	if t.key.BucketIDs != nil {
		ok := false
		if hasID {
			ok = t.bucketAllowed(id)
		} else if hasName {
			if b := st.bucketByName(name); b != nil {
				ok = t.bucketAllowed(b.ID)
			}
		}
		if !ok {
			return nil, errUnauthorized("application key is restricted to buckets; pass bucketId or bucketName of an allowed bucket")
		}
	}
	bs := st.bucketList(func(b *bucket) bool {
		return (!hasID || b.ID == id) && (!hasName || b.Name == name) && types[b.Type] && t.sees(b)
	})
	out := make([]*bucketJSON, 0, len(bs))
	for i := range bs {
		out = append(out, c.bucketObject(&bs[i]))
	}
	return map[string]any{"buckets": out}, nil
}

func opDeleteBucket(c *call) (any, error) {
	t, p, err := c.adminArgs("deleteBuckets")
	if err != nil {
		return nil, err
	}
	if err := c.checkAccount(p, true); err != nil {
		return nil, err
	}
	id, err := t.bucketArg(c.s.st, p)
	if err != nil {
		return nil, err
	}
	st := c.s.st
	out, err := st.deleteBucket(id, "")
	if err != nil {
		return nil, err
	}
	return c.bucketObject(&out), nil
}
