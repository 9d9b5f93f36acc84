package emulator

import "encoding/xml"

// XML documents of the S3 API.

type s3Owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type s3BucketXML struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
}

type s3ListBucketsResult struct {
	XMLName xml.Name      `xml:"ListAllMyBucketsResult"`
	NS      string        `xml:"xmlns,attr"`
	Owner   s3Owner       `xml:"Owner"`
	Buckets []s3BucketXML `xml:"Buckets>Bucket"`
}

type s3VersioningXML struct {
	XMLName xml.Name `xml:"VersioningConfiguration"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status,omitempty"`
	MFA     string   `xml:"MfaDelete,omitempty"`
}

type s3LocationXML struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	NS      string   `xml:"xmlns,attr"`
	Region  string   `xml:",chardata"`
}

type s3Object struct {
	Key          string   `xml:"Key"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
	Size         int64    `xml:"Size"`
	StorageClass string   `xml:"StorageClass"`
	Owner        *s3Owner `xml:"Owner,omitempty"`
}

type s3Prefix struct {
	Prefix string `xml:"Prefix"`
}

type s3ListV2Result struct {
	XMLName               xml.Name   `xml:"ListBucketResult"`
	NS                    string     `xml:"xmlns,attr"`
	Name                  string     `xml:"Name"`
	Prefix                string     `xml:"Prefix"`
	Delimiter             string     `xml:"Delimiter,omitempty"`
	MaxKeys               int        `xml:"MaxKeys"`
	EncodingType          string     `xml:"EncodingType,omitempty"`
	KeyCount              int        `xml:"KeyCount"`
	IsTruncated           bool       `xml:"IsTruncated"`
	ContinuationToken     string     `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string     `xml:"NextContinuationToken,omitempty"`
	StartAfter            string     `xml:"StartAfter,omitempty"`
	Contents              []s3Object `xml:"Contents"`
	CommonPrefixes        []s3Prefix `xml:"CommonPrefixes"`
}

type s3ListV1Result struct {
	XMLName        xml.Name   `xml:"ListBucketResult"`
	NS             string     `xml:"xmlns,attr"`
	Name           string     `xml:"Name"`
	Prefix         string     `xml:"Prefix"`
	Marker         string     `xml:"Marker"`
	NextMarker     string     `xml:"NextMarker,omitempty"`
	Delimiter      string     `xml:"Delimiter,omitempty"`
	MaxKeys        int        `xml:"MaxKeys"`
	EncodingType   string     `xml:"EncodingType,omitempty"`
	IsTruncated    bool       `xml:"IsTruncated"`
	Contents       []s3Object `xml:"Contents"`
	CommonPrefixes []s3Prefix `xml:"CommonPrefixes"`
}

// s3VersionEntry is a <Version> or a <DeleteMarker>; the document keeps
// them in listing order, so both go through one slice of xml elements.
type s3VersionEntry struct {
	XMLName      xml.Name
	Key          string  `xml:"Key"`
	VersionID    string  `xml:"VersionId"`
	IsLatest     bool    `xml:"IsLatest"`
	LastModified string  `xml:"LastModified"`
	ETag         string  `xml:"ETag,omitempty"`
	Size         *int64  `xml:"Size,omitempty"`
	StorageClass string  `xml:"StorageClass,omitempty"`
	Owner        s3Owner `xml:"Owner"`
}

type s3ListVersionsResult struct {
	XMLName             xml.Name         `xml:"ListVersionsResult"`
	NS                  string           `xml:"xmlns,attr"`
	Name                string           `xml:"Name"`
	Prefix              string           `xml:"Prefix"`
	KeyMarker           string           `xml:"KeyMarker"`
	VersionIDMarker     string           `xml:"VersionIdMarker"`
	NextKeyMarker       string           `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string           `xml:"NextVersionIdMarker,omitempty"`
	Delimiter           string           `xml:"Delimiter,omitempty"`
	MaxKeys             int              `xml:"MaxKeys"`
	EncodingType        string           `xml:"EncodingType,omitempty"`
	IsTruncated         bool             `xml:"IsTruncated"`
	Entries             []s3VersionEntry `xml:"Version"`
	CommonPrefixes      []s3Prefix       `xml:"CommonPrefixes"`
}

type s3CopyResult struct {
	XMLName      xml.Name
	NS           string `xml:"xmlns,attr"`
	ETag         string `xml:"ETag"`
	LastModified string `xml:"LastModified"`
}

type s3InitiateResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

type s3CompleteRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type s3CompleteResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

type s3PartXML struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
}

type s3ListPartsResult struct {
	XMLName              xml.Name    `xml:"ListPartsResult"`
	NS                   string      `xml:"xmlns,attr"`
	Bucket               string      `xml:"Bucket"`
	Key                  string      `xml:"Key"`
	UploadID             string      `xml:"UploadId"`
	Initiator            s3Owner     `xml:"Initiator"`
	Owner                s3Owner     `xml:"Owner"`
	StorageClass         string      `xml:"StorageClass"`
	PartNumberMarker     int         `xml:"PartNumberMarker"`
	NextPartNumberMarker int         `xml:"NextPartNumberMarker"`
	MaxParts             int         `xml:"MaxParts"`
	IsTruncated          bool        `xml:"IsTruncated"`
	Parts                []s3PartXML `xml:"Part"`
}

type s3UploadXML struct {
	Key          string  `xml:"Key"`
	UploadID     string  `xml:"UploadId"`
	Initiator    s3Owner `xml:"Initiator"`
	Owner        s3Owner `xml:"Owner"`
	StorageClass string  `xml:"StorageClass"`
	Initiated    string  `xml:"Initiated"`
}

type s3ListUploadsResult struct {
	XMLName            xml.Name      `xml:"ListMultipartUploadsResult"`
	NS                 string        `xml:"xmlns,attr"`
	Bucket             string        `xml:"Bucket"`
	KeyMarker          string        `xml:"KeyMarker"`
	UploadIDMarker     string        `xml:"UploadIdMarker"`
	NextKeyMarker      string        `xml:"NextKeyMarker,omitempty"`
	NextUploadIDMarker string        `xml:"NextUploadIdMarker,omitempty"`
	Prefix             string        `xml:"Prefix"`
	Delimiter          string        `xml:"Delimiter,omitempty"`
	MaxUploads         int           `xml:"MaxUploads"`
	IsTruncated        bool          `xml:"IsTruncated"`
	Uploads            []s3UploadXML `xml:"Upload"`
	CommonPrefixes     []s3Prefix    `xml:"CommonPrefixes"`
}

type s3DeleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
	} `xml:"Object"`
}

type s3Deleted struct {
	Key                   string `xml:"Key"`
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

type s3DeleteError struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

type s3DeleteResult struct {
	XMLName xml.Name        `xml:"DeleteResult"`
	NS      string          `xml:"xmlns,attr"`
	Deleted []s3Deleted     `xml:"Deleted"`
	Errors  []s3DeleteError `xml:"Error"`
}
