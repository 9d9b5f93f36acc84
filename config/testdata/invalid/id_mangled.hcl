bucket "assets" {
  name = "acme-assets"
}
bucket "b" {
  name = "acme-b"
  info = {
    peer = upper(bucket.assets.id) # ERROR: Cannot defer this value
  }
}
