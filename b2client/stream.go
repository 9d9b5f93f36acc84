package b2client

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/b2plan/b2plan/live"
)

// VersionPager lists the file versions of one (bucket, prefix) whose names
// are in [start, end) one page at a time (b2_list_file_versions, 10,000 a
// call), in B2 order: name ascending, newest first within a name. Only one
// page is held: a move of any size is planned and applied in bounded memory
// (docs/moves.md, "Memory and chunked plans"). Over an S3 endpoint each
// page is joined with S3 ListObjectVersions of the same names, as Observe
// does (s3ListVersions): the ETag MD5s verify copies without reading them
// back.
type VersionPager struct {
	c                             *Conn
	bucketName, bucketID, prefix  string
	end                           string // "" = to the end of the prefix
	vb                            *versionBuilder
	page                          *versionPage
	startName, startID, lastS3Key string
	started, done                 bool
	// joinS3: join each page with the S3 listing (an S3 endpoint).
	joinS3Pages bool
}

// ListRange returns a pager over the versions of (bucketName, prefix) with
// names in [start, end); start "" (or one before prefix) is the start of
// the prefix, end "" its end.
func (c *Conn) ListRange(bucketName, bucketID, prefix, start, end string) *VersionPager {
	p := c.pager(bucketName, bucketID, prefix, start, end, &versionBuilder{in: &live.Interner{}})
	p.joinS3Pages = c.s3 != nil
	return p
}

// pager is ListRange with the version builder given and without the S3
// join (listVersions: Observe joins the whole listing itself).
func (c *Conn) pager(bucketName, bucketID, prefix, start, end string, vb *versionBuilder) *VersionPager {
	if start < prefix {
		start = prefix
	}
	return &VersionPager{c: c, bucketName: bucketName, bucketID: bucketID, prefix: prefix, end: end,
		vb: vb, page: &versionPage{}, startName: start}
}

// Next returns the next page (a fresh slice, owned by the caller), or
// io.EOF after the last one.
func (p *VersionPager) Next(ctx context.Context) ([]live.Version, error) {
	if p.done {
		return nil, io.EOF
	}
	type req struct {
		BucketID      string `json:"bucketId"`
		StartFileName string `json:"startFileName,omitempty"`
		StartFileID   string `json:"startFileId,omitempty"`
		MaxFileCount  int    `json:"maxFileCount"`
		Prefix        string `json:"prefix,omitempty"`
	}
	op := fmt.Sprintf("list versions %s/%s", p.bucketName, p.prefix)
	r := req{BucketID: p.bucketID, MaxFileCount: maxListFiles, Prefix: p.prefix, StartFileID: p.startID}
	if p.startName > p.prefix {
		r.StartFileName = p.startName
	}
	p.page.vb, p.page.files = p.vb, nil
	if _, err := p.c.call(ctx, op, "b2_list_file_versions", r, p.page, false); err != nil {
		return nil, err
	}
	files := p.page.files
	if p.end != "" {
		for i := range files {
			if files[i].Name >= p.end {
				files, p.done = files[:i:i], true
				break
			}
		}
	}
	if !p.done {
		if p.page.nextName == nil || *p.page.nextName == "" {
			p.done = true
		} else {
			nn, ni := *p.page.nextName, ""
			if p.page.nextID != nil {
				ni = *p.page.nextID
			}
			if p.started && nn == p.startName && ni == p.startID {
				return nil, &Error{Op: op, Class: Permanent, Message: "the server repeated the same page cursor"}
			}
			p.startName, p.startID = nn, ni
			if p.end != "" && nn >= p.end {
				p.done = true
			}
		}
	}
	p.started = true
	if p.joinS3Pages && len(files) > 0 {
		if err := p.joinS3(ctx, files); err != nil {
			return nil, err
		}
	}
	if len(files) == 0 && p.done {
		return nil, io.EOF
	}
	return files, nil
}

// joinS3 lists the S3 versions of the names of one native page and
// remembers their MD5s (s3ListVersions). S3's key marker is exclusive, so
// the first name of the range is listed from the page before (or, for the
// first page, from the start of the prefix when the range starts there);
// a version without an MD5 is verified by reading its copy back.
func (p *VersionPager) joinS3(ctx context.Context, files []live.Version) error {
	op := fmt.Sprintf("list versions %s/%s (S3)", p.bucketName, p.prefix)
	first, last := files[0].Name, files[len(files)-1].Name
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(p.bucketName), MaxKeys: aws.Int32(maxS3ListKeys)}
	if p.prefix != "" {
		in.Prefix = aws.String(p.prefix)
	}
	switch {
	case p.lastS3Key != "" && p.lastS3Key < first:
		in.KeyMarker = aws.String(p.lastS3Key)
	case first > p.prefix:
		in.KeyMarker = aws.String(first)
	}
	entries := map[string]s3Entry{}
	for {
		var page *s3.ListObjectVersionsOutput
		if _, err := p.c.s3Do(ctx, op, false, func(ctx context.Context) error {
			pg, err := p.c.s3.client.ListObjectVersions(ctx, in)
			page = pg
			return err
		}); err != nil {
			return err
		}
		past := false
		for _, v := range page.Versions {
			if k := aws.ToString(v.Key); k > last {
				past = true
				continue
			}
			e := s3Entry{size: aws.ToInt64(v.Size)}
			e.md5, e.md5ok = etagMD5(aws.ToString(v.ETag))
			entries[aws.ToString(v.VersionId)] = e
		}
		for _, d := range page.DeleteMarkers {
			if aws.ToString(d.Key) > last {
				past = true
				continue
			}
			entries[aws.ToString(d.VersionId)] = s3Entry{marker: true}
		}
		if past || !aws.ToBool(page.IsTruncated) {
			break
		}
		nk, nv := aws.ToString(page.NextKeyMarker), aws.ToString(page.NextVersionIdMarker)
		if nk == "" || (nk == aws.ToString(in.KeyMarker) && nv == aws.ToString(in.VersionIdMarker)) {
			return &Error{Op: op, Class: Permanent, Message: "the server repeated the same page cursor"}
		}
		next := *in
		next.KeyMarker, next.VersionIdMarker = aws.String(nk), nil
		if nv != "" {
			next.VersionIdMarker = aws.String(nv)
		}
		in = &next
	}
	// The last name may continue on the next native page: its S3 versions
	// were all read here, so the next page starts after it.
	p.lastS3Key = last
	if why := joinS3(files, entries); why != "" {
		return &Error{Op: op, Class: Permanent, Code: "inconsistent_listing", Message: "the S3 and native listings disagree: " + why}
	}
	p.c.s3.remember(files, entries)
	return nil
}

// remember records the MD5s of listed uploads for s3VerifyCopy.
func (st *s3State) remember(vs []live.Version, entries map[string]s3Entry) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := range vs {
		v := &vs[i]
		e, ok := entries[v.ID]
		if !ok || v.Action != live.ActionUpload {
			continue
		}
		st.sources[v.ID] = s3Source{size: v.Size, sha1: v.SHA1, flags: v.Flags & (live.FlagSHA1 | live.FlagLargeFileSHA1), md5: e.md5, md5ok: e.md5ok}
	}
}

// ForgetListed drops what listings remembered about versions vs (over S3:
// their ETag MD5s, kept to verify copies of them) once nothing will copy
// them: chunked moves call it after each chunk, so that memory stays
// bounded. Natively it does nothing.
func (c *Conn) ForgetListed(vs []live.Version) {
	if c.s3 == nil {
		return
	}
	c.s3.mu.Lock()
	defer c.s3.mu.Unlock()
	for i := range vs {
		delete(c.s3.sources, vs[i].ID)
	}
}

// ListUnfinished lists the unfinished large files under (bucketName,
// prefix), oldest first (a few, kept whole).
func (c *Conn) ListUnfinished(ctx context.Context, bucketName, bucketID, prefix string) ([]live.Version, error) {
	return c.listUnfinished(ctx, bucketName, bucketID, prefix, &versionBuilder{in: &live.Interner{}})
}
