bucket "assets" {
  name = "acme-assets"
}
folder "f" {
  bucket = bucket.assets.id # ERROR: Value known only after apply
  path   = "x/"
}
