# Quickstart: one bucket, one key allowed to read and write it, one folder.
#
#   b2plan validate examples/quickstart.hcl
#   b2plan plan examples/quickstart.hcl
#
# No provider block: the endpoint defaults to the embedded local emulator, so this works
# offline. Set B2_ENDPOINT, B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY to target real B2.

variable "project" {
  type        = string
  default     = "quickstart"
  description = "prefix of every bucket and key name"
}

bucket "assets" {
  name = "${var.project}-assets"
  type = "allPrivate"
  info = {
    team = "web"
  }
}

key "uploader" {
  name        = "${var.project}-uploader"
  access      = "read-write"
  buckets     = [bucket.assets.name]
  secret_file = "secrets/uploader.env"
}

folder "uploads" {
  bucket = bucket.assets.name
  path   = "uploads/"
}
