package main

import "github.com/b2plan/b2plan/live"

func liveReq(bucket string) live.Request {
	return live.Request{Prefixes: []live.PrefixRequest{{BucketName: bucket, Prefix: ""}}}
}
