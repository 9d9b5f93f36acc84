bucket "assets" {
  name = "acme-assets"
  cors_rule {
    name               = "downloads"
    allowed_origins    = ["example.com/path"] # ERROR: Invalid CORS origin
    allowed_operations = ["s3_get"]
  }
}
