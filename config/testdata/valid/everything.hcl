b2plan {
  owns {
    buckets = ["acme-*"]
    keys    = ["acme-*"]
  }
  prune = true
}

provider "b2" {
  endpoint           = "http://127.0.0.1:8787"
  application_key_id = var.key_id
  application_key    = var.key
}

variable "key_id" {
  type    = string
  default = "dev-id"
}

variable "key" {
  type      = string
  default   = "dev-secret"
  sensitive = true
}

variable "regions" {
  type    = set(string)
  default = ["eu", "us"]
}

locals {
  prefix = lower("ACME")
  tags   = merge({ team = "web" }, { env = "prod" })
}

bucket "assets" {
  name            = "${local.prefix}-assets"
  type            = "allPublic"
  info            = merge(local.tags, { Peer = bucket.logs["eu"].id })
  encryption      = "SSE-B2"
  prevent_destroy = true
}

bucket "logs" {
  for_each               = var.regions
  name                   = format("%s-logs-%s", local.prefix, each.key)
  keep_only_last_version = true
}

key "reader" {
  name         = "${local.prefix}-reader"
  capabilities = ["readFiles", "listFiles", "listBuckets", "readFiles"]
  buckets      = [for r in sort(var.regions) : bucket.logs[r].name]
  name_prefix  = "by-id/${bucket.assets.id}/"
  duration     = "30d12h"
  renew_before = "72h"
  secret_file  = "/tmp/reader.env"
}

key "admin" {
  name         = "acme-admin"
  capabilities = ["listKeys", "writeKeys", "deleteKeys", "listBuckets"]
}

folder "inbox" {
  for_each = { a = "inbox-a/", b = "inbox-b/" }
  bucket   = bucket.assets.name
  path     = each.value
}

move "m" {
  bucket    = bucket.assets.name
  from      = "old/"
  to        = "new/"
  to_bucket = bucket.logs["us"].name
}

move "n" {
  bucket = bucket.assets.name
  from   = "tmp/"
  to     = "${folder.inbox["a"].path}tmp/"
}
