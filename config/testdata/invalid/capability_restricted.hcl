bucket "assets" {
  name = "acme-assets"
}
key "admin" {
  capabilities = ["listFiles", "writeKeys", "deleteBuckets"] # ERROR: Capability not allowed on a bucket-restricted key
  buckets      = [bucket.assets.name]
}
