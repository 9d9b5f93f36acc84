bucket "assets" {
  name = "acme-assets"
  cors_rule {
    name               = "web" # ERROR: Invalid CORS rule name
    allowed_origins    = ["https://example.com"]
    allowed_operations = ["b2_download_file_by_name"]
  }
}
