# One site: an asset bucket, an upload key restricted to it, and an incoming/ folder.

variable "name" {
  type        = string
  description = "prefix of the site's bucket and key names"
}

bucket "assets" {
  name = "${var.name}-assets"
  info = { site = var.name }
}

key "uploader" {
  name        = "${var.name}-uploader"
  access      = "write-only"
  buckets     = [bucket.assets.name]
  secret_file = "secrets/${var.name}-uploader.env"
}

folder "incoming" {
  bucket = bucket.assets.name
  path   = "incoming/"
}

output "bucket_id" {
  value = bucket.assets.id
}

output "uploader_key_id" {
  value = key.uploader.id
}
