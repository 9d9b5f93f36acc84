package b2client

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/b2plan/b2plan/live"
)

// maxS3ListKeys is S3's page size for ListObjectVersions.
const maxS3ListKeys = 1000

// s3Entry is what ListObjectVersions says about one version.
type s3Entry struct {
	size   int64
	md5    [16]byte
	md5ok  bool
	marker bool
}

// s3ListVersions lists one (bucket, prefix) through both APIs and joins
// them by version id (= B2 file id):
//
//   - S3 ListObjectVersions (1,000 per page) gives every version and delete
//     marker with its size and ETag (the MD5 of simple objects);
//   - the native b2_list_file_versions (10,000 per page), read after it,
//     gives what S3 listings lack and the plan needs: SHA-1, content type,
//     file info, retention and legal hold.
//
// The Listing is the native one, so it is the same as over a native
// endpoint. The ETag MD5s of the versions both listings show are remembered
// on the Conn, to verify copies of them (s3VerifyCopy) without reading the
// copies back. A version only one listing shows (it was added or deleted
// between the two reads) just gets no MD5: its copy will be read back. A
// version both show with another size or kind means the endpoint is not
// consistent with itself: an error.
func (c *Conn) s3ListVersions(ctx context.Context, bucketName, bucketID, prefix string, vb *versionBuilder) ([]live.Version, error) {
	op := fmt.Sprintf("list versions %s/%s (S3)", bucketName, prefix)
	entries, err := c.s3ListEntries(ctx, op, bucketName, prefix)
	if err != nil {
		return nil, err
	}
	vs, err := c.listVersions(ctx, bucketName, bucketID, prefix, vb)
	if err != nil {
		return nil, err
	}
	if why := joinS3(vs, entries); why != "" {
		return nil, &Error{Op: op, Class: Permanent, Code: "inconsistent_listing", Message: "the S3 and native listings disagree: " + why}
	}
	c.s3.mu.Lock()
	defer c.s3.mu.Unlock()
	for i := range vs {
		v := &vs[i]
		e, ok := entries[v.ID]
		if !ok || v.Action != live.ActionUpload {
			continue
		}
		c.s3.sources[v.ID] = s3Source{size: v.Size, sha1: v.SHA1, flags: v.Flags & (live.FlagSHA1 | live.FlagLargeFileSHA1), md5: e.md5, md5ok: e.md5ok}
	}
	return vs, nil
}

// joinS3 checks that the versions both listings show agree (size, upload
// or hide marker); it returns "" or what differs.
func joinS3(vs []live.Version, entries map[string]s3Entry) string {
	for i := range vs {
		v := &vs[i]
		if v.Action != live.ActionUpload && v.Action != live.ActionHide {
			continue
		}
		e, ok := entries[v.ID]
		if !ok {
			continue
		}
		if e.marker != (v.Action == live.ActionHide) {
			return fmt.Sprintf("version %s of %s is a %s natively but not over S3", v.ID, v.Name, v.Action)
		}
		if v.Action == live.ActionUpload && e.size != v.Size {
			return fmt.Sprintf("version %s of %s has %d bytes natively, %d over S3", v.ID, v.Name, v.Size, e.size)
		}
	}
	return ""
}

// s3ListEntries pages ListObjectVersions 1,000 at a time.
func (c *Conn) s3ListEntries(ctx context.Context, op, bucketName, prefix string) (map[string]s3Entry, error) {
	out := map[string]s3Entry{}
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucketName), MaxKeys: aws.Int32(maxS3ListKeys)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	for {
		var page *s3.ListObjectVersionsOutput
		if _, err := c.s3Do(ctx, op, false, func(ctx context.Context) error {
			p, err := c.s3.client.ListObjectVersions(ctx, in)
			page = p
			return err
		}); err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			e := s3Entry{size: aws.ToInt64(v.Size)}
			e.md5, e.md5ok = etagMD5(aws.ToString(v.ETag))
			out[aws.ToString(v.VersionId)] = e
		}
		for _, d := range page.DeleteMarkers {
			out[aws.ToString(d.VersionId)] = s3Entry{marker: true}
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		nk, nv := aws.ToString(page.NextKeyMarker), aws.ToString(page.NextVersionIdMarker)
		if nk == "" || (nk == aws.ToString(in.KeyMarker) && nv == aws.ToString(in.VersionIdMarker)) {
			return nil, &Error{Op: op, Class: Permanent, Message: "the server repeated the same page cursor"}
		}
		next := *in
		next.KeyMarker, next.VersionIdMarker = aws.String(nk), nil
		if nv != "" {
			next.VersionIdMarker = aws.String(nv)
		}
		in = &next
	}
}
