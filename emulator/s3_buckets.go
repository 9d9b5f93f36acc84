package emulator

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

func (x *s3req) owner() s3Owner {
	id := x.st.accountID
	if x.k != nil {
		id = x.k.Account
	}
	return s3Owner{ID: id, DisplayName: id}
}

func (x *s3req) region() string {
	if x.sig != nil && x.sig.region != "" {
		return x.sig.region
	}
	return "us-west-000"
}

func s3ListBuckets(x *s3req) error {
	if err := x.need("listBuckets"); err != nil {
		return err
	}
	bs := x.st.bucketList(func(b *bucket) bool { return x.tok.sees(b) })
	now := x.st.nowMs()
	res := s3ListBucketsResult{NS: s3NS, Owner: x.owner(), Buckets: []s3BucketXML{}}
	for _, b := range bs {
		res.Buckets = append(res.Buckets, s3BucketXML{Name: b.Name, CreationDate: s3Time(now)})
	}
	writeXML(x.w, 200, res)
	return nil
}

func (x *s3req) requireUnrestricted() error {
	if x.k.BucketIDs != nil || x.k.NamePrefix != nil {
		return errAccessDenied("this call needs an application key without bucket or name-prefix restrictions")
	}
	return nil
}

func s3CreateBucket(x *s3req) error {
	if err := x.need("writeBuckets"); err != nil {
		return err
	}
	if err := x.requireUnrestricted(); err != nil {
		return err
	}
	if _, err := x.readSmallBody(1 << 20); err != nil {
		return err
	}
	name := x.bucket
	if err := validBucketName(name); err != nil {
		return s3err(400, "InvalidBucketName", "The specified bucket is not valid: "+err.(*apiError).msg)
	}
	typ := "allPrivate"
	switch acl := x.r.Header.Get("X-Amz-Acl"); acl {
	case "", "private":
	case "public-read":
		typ = "allPublic"
	default:
		return errNotImplemented(fmt.Sprintf("x-amz-acl %q is not supported; B2 buckets are private or public-read", acl))
	}
	for k := range x.r.Header {
		if len(k) > 12 && lower(k[:12]) == "x-amz-grant-" {
			return errNotImplemented("x-amz-grant-* headers are not supported")
		}
	}
	lock := false
	switch v := lower(x.r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled")); v {
	case "", "false":
	case "true":
		if !x.k.has("writeBucketRetentions") {
			return errAccessDenied("enabling Object Lock needs the writeBucketRetentions capability")
		}
		lock = true
	default:
		return errInvalidArgument("x-amz-bucket-object-lock-enabled must be true or false")
	}
	old, err := x.st.createBucket(&bucket{Name: name, Revision: 1, Type: typ, Lock: lock, Account: x.k.Account})
	switch {
	case err == nil:
	case refusalOf(err) == refNameTaken && old.Name == name && old.Account == x.k.Account:
		return s3err(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
	case refusalOf(err) == refNameTaken:
		return s3err(409, "BucketAlreadyExists", "The requested bucket name is not available: "+old.Name)
	case refusalOf(err) == refTooMany:
		return s3err(400, "TooManyBuckets", fmt.Sprintf("You have attempted to create more buckets than allowed (%d).", maxBuckets))
	default:
		return err
	}
	x.w.Header().Set("Location", "/"+name)
	x.w.Header().Set("Content-Length", "0")
	x.w.WriteHeader(200)
	return nil
}

func s3DeleteBucket(x *s3req) error {
	if err := x.need("deleteBuckets"); err != nil {
		return err
	}
	if err := x.requireUnrestricted(); err != nil {
		return err
	}
	st := x.st
	old, err := st.deleteBucket("", x.bucket)
	switch {
	case err == nil:
	case refusalOf(err) == refNotEmpty:
		return s3err(409, "BucketNotEmpty", fmt.Sprintf("The bucket you tried to delete is not empty: it holds %d file versions (including hide markers and unfinished uploads).", old.count))
	default:
		return x.refusal(err, x.bucket)
	}
	x.w.WriteHeader(http.StatusNoContent)
	return nil
}

func s3HeadBucket(x *s3req) error {
	if _, err := x.bucketFor("listBuckets"); err != nil {
		return err
	}
	x.w.Header().Set("X-Amz-Bucket-Region", x.region())
	x.w.Header().Set("Content-Length", "0")
	x.w.WriteHeader(200)
	return nil
}

func s3GetBucketVersioning(x *s3req) error {
	if _, err := x.bucketFor("listBuckets"); err != nil {
		return err
	}
	writeXML(x.w, 200, s3VersioningXML{NS: s3NS, Status: "Enabled"})
	return nil
}

func s3PutBucketVersioning(x *s3req) error {
	if _, err := x.bucketFor("writeBuckets"); err != nil {
		return err
	}
	body, err := x.readSmallBody(1 << 16)
	if err != nil {
		return err
	}
	var vc s3VersioningXML
	if err := xml.Unmarshal(body, &vc); err != nil {
		return errMalformedXML(err.Error())
	}
	if vc.Status != "Enabled" {
		return errNotImplemented("B2 buckets are always versioned; only Status Enabled is accepted")
	}
	x.w.WriteHeader(200)
	return nil
}

func s3GetBucketLocation(x *s3req) error {
	if _, err := x.bucketFor("listBuckets"); err != nil {
		return err
	}
	writeXML(x.w, 200, s3LocationXML{NS: s3NS, Region: x.region()})
	return nil
}

// ---- listings ----

func (x *s3req) maxKeys(param string) (int, error) {
	s := x.q.Get(param)
	if s == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errInvalidArgument(param + " must be a non-negative integer")
	}
	if n > 1000 {
		n = 1000
	}
	return n, nil
}

// listBucket does the checks shared by the listings.
func (x *s3req) listBucket() (*bucket, string, string, int, error) {
	b, err := x.bucketFor("listFiles")
	if err != nil {
		return nil, "", "", 0, err
	}
	prefix, delim := x.q.Get("prefix"), x.q.Get("delimiter")
	if err := x.checkListPrefix(prefix); err != nil {
		return nil, "", "", 0, err
	}
	max, err := x.maxKeys("max-keys")
	if err != nil {
		return nil, "", "", 0, err
	}
	if et := x.q.Get("encoding-type"); et != "" && et != "url" {
		return nil, "", "", 0, errInvalidArgument("Invalid Encoding Method specified in Request")
	}
	return b, prefix, delim, max, nil
}

func (x *s3req) objectXML(b *bucket, it *s3Item, owner bool) s3Object {
	o := s3Object{Key: x.s3Encode(it.name), LastModified: s3Time(it.v.ts), ETag: x.s.etag(b, &it.v), Size: it.v.size, StorageClass: "STANDARD"}
	if owner {
		ow := x.owner()
		o.Owner = &ow
	}
	return o
}

func s3ListObjectsV2(x *s3req) error {
	b, prefix, delim, max, err := x.listBucket()
	if err != nil {
		return err
	}
	start, after := "", ""
	res := s3ListV2Result{NS: s3NS, Name: b.Name, Prefix: x.s3Encode(prefix), MaxKeys: max, EncodingType: x.q.Get("encoding-type")}
	if delim != "" {
		res.Delimiter = x.s3Encode(delim)
	}
	if sa := x.q.Get("start-after"); sa != "" {
		start, after = sa+"\x00", sa
		res.StartAfter = x.s3Encode(sa)
	}
	if tokStr := x.q.Get("continuation-token"); tokStr != "" { // empty: from the start, as S3
		raw, err := base64.RawURLEncoding.DecodeString(tokStr)
		if err != nil {
			return errInvalidArgument("The continuation token provided is incorrect")
		}
		start, after = string(raw), ""
		res.ContinuationToken = tokStr
	}
	owner := x.q.Get("fetch-owner") == "true"
	items, truncated, err := x.currentPage(b, start, after, prefix, delim, max, owner, &res.CommonPrefixes, &res.Contents)
	if err != nil {
		return err
	}
	res.KeyCount = len(items)
	if truncated {
		res.IsTruncated = true
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(items[len(items)-1].s3NextStart()))
	}
	writeXML(x.w, 200, res)
	return nil
}

// currentPage lists one page of current keys (ListObjects v1 and v2) into
// prefixes and contents.
func (x *s3req) currentPage(b *bucket, start, after, prefix, delim string, max int, owner bool, prefixes *[]s3Prefix, contents *[]s3Object) ([]s3Item, bool, error) {
	items, truncated, err := x.st.s3Current(b, start, after, prefix, delim, max)
	if err != nil {
		return nil, false, x.refusal(err, b.Name)
	}
	for i := range items {
		it := &items[i]
		if it.prefix {
			*prefixes = append(*prefixes, s3Prefix{Prefix: x.s3Encode(it.name)})
		} else {
			*contents = append(*contents, x.objectXML(b, it, owner))
		}
	}
	return items, truncated, nil
}

func s3ListObjectsV1(x *s3req) error {
	b, prefix, delim, max, err := x.listBucket()
	if err != nil {
		return err
	}
	marker := x.q.Get("marker")
	start := ""
	if marker != "" {
		start = marker + "\x00"
	}
	res := s3ListV1Result{NS: s3NS, Name: b.Name, Prefix: x.s3Encode(prefix), Marker: x.s3Encode(marker), MaxKeys: max, EncodingType: x.q.Get("encoding-type")}
	if delim != "" {
		res.Delimiter = x.s3Encode(delim)
	}
	items, truncated, err := x.currentPage(b, start, marker, prefix, delim, max, true, &res.CommonPrefixes, &res.Contents)
	if err != nil {
		return err
	}
	if truncated {
		res.IsTruncated = true
		res.NextMarker = x.s3Encode(items[len(items)-1].name)
	}
	writeXML(x.w, 200, res)
	return nil
}

func s3ListObjectVersions(x *s3req) error {
	b, prefix, delim, max, err := x.listBucket()
	if err != nil {
		return err
	}
	keyMarker, vidMarker := x.q.Get("key-marker"), x.q.Get("version-id-marker")
	var vid uint64
	if vidMarker != "" {
		if keyMarker == "" {
			return errInvalidArgument("A version-id marker cannot be specified without a key marker.")
		}
		bid, id, ok := parseFileID(vidMarker)
		if !ok || bid != b.ID {
			return errInvalidArgument("Invalid version id specified: " + vidMarker)
		}
		vid = id
	}
	res := s3ListVersionsResult{NS: s3NS, Name: b.Name, Prefix: x.s3Encode(prefix), KeyMarker: x.s3Encode(keyMarker),
		VersionIDMarker: vidMarker, MaxKeys: max, EncodingType: x.q.Get("encoding-type")}
	if delim != "" {
		res.Delimiter = x.s3Encode(delim)
	}
	items, truncated, err := x.st.s3Versions(b, keyMarker, vid, prefix, delim, max)
	if err != nil {
		return x.refusal(err, b.Name)
	}
	ow := x.owner()
	for i := range items {
		it := &items[i]
		if it.prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, s3Prefix{Prefix: x.s3Encode(it.name)})
			continue
		}
		e := s3VersionEntry{Key: x.s3Encode(it.name), VersionID: fileIDString(b.ID, it.v.id, it.v.ts), IsLatest: it.latest,
			LastModified: s3Time(it.v.ts), Owner: ow}
		if it.v.kind == kindHide {
			e.XMLName.Local = "DeleteMarker"
		} else {
			e.XMLName.Local = "Version"
			e.ETag = x.s.etag(b, &it.v)
			size := it.v.size
			e.Size = &size
			e.StorageClass = "STANDARD"
		}
		res.Entries = append(res.Entries, e)
	}
	if truncated {
		res.IsTruncated = true
		last := items[len(items)-1]
		res.NextKeyMarker = x.s3Encode(last.name)
		if !last.prefix {
			res.NextVersionIDMarker = fileIDString(b.ID, last.v.id, last.v.ts)
		}
	}
	writeXML(x.w, 200, res)
	return nil
}
