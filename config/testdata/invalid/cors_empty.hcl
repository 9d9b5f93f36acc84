bucket "assets" {
  name = "acme-assets"
  cors_rule {
    name               = "downloads"
    allowed_origins    = [] # ERROR: Empty allowed_origins
    allowed_operations = ["b2_download_file_by_nme"] # ERROR: Invalid CORS operation
    max_age_seconds    = 90000 # ERROR: Invalid max_age_seconds
  }
}
