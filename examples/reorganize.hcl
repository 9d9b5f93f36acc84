# Reorganise a bucket: yearly uploads move to an archive prefix, and old logs move to a
# separate bucket whose older versions expire.

locals {
  years = toset(["2022", "2023", "2024"])
}

bucket "media" {
  name = "acme-media"
}

bucket "archive" {
  name                   = "acme-media-archive"
  keep_only_last_version = true
}

move "yearly" {
  for_each = local.years

  bucket = bucket.media.name
  from   = "incoming/${each.key}/"
  to     = "archive/${each.key}/"
}

move "logs" {
  bucket      = bucket.media.name
  from        = "logs/"
  to          = "media-logs/"
  to_bucket   = bucket.archive.name
  versions    = "all"
  source      = "delete"
  on_conflict = "skip"
}

folder "incoming" {
  bucket = bucket.media.name
  path   = "incoming/"
}
