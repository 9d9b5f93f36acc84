# A small static site: a public bucket, its managed files, and a deploy key.
#
#   b2plan apply examples/site.hcl               # creates and uploads
#   b2plan apply -replace=key.deploy examples/site.hcl  # rotates the key (a leaked secret)
#   b2plan destroy examples/site.hcl             # deletes it all, files included

bucket "site" {
  name          = "example-site-www"
  type          = "allPublic"
  force_destroy = true # destroy deletes every file version first
}

object "robots" {
  bucket  = bucket.site.name
  name    = "robots.txt"
  content = "User-agent: *\nDisallow:\n"
}

object "index" {
  bucket  = bucket.site.name
  name    = "index.html"
  content = "<!doctype html><title>Example</title><h1>It works</h1>\n"
  info    = { team = "web" }
}

key "deploy" {
  access      = "read-write"
  buckets     = [bucket.site.name]
  secret_file = "deploy.secret"
}
