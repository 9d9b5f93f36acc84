# Lifecycle, CORS, encryption and Object Lock on one bucket.

bucket "logs" {
  name       = "acme-logs"
  encryption = "SSE-B2"

  lifecycle_rule {
    prefix                        = "app/"
    days_from_uploading_to_hiding = 30
    days_from_hiding_to_deleting  = 7
  }

  lifecycle_rule {
    prefix                       = "audit/"
    days_from_hiding_to_deleting = 365
  }

  lifecycle_rule {
    prefix                                                 = "uploads/"
    days_from_starting_to_canceling_unfinished_large_files = 1
  }

  prevent_destroy = true
}

bucket "site" {
  name = "acme-site"
  type = "allPublic"
  info = {
    Cache-Control = "max-age=3600"
  }

  cors_rule {
    name               = "web-downloads"
    allowed_origins    = ["https://example.com", "https://*.example.com"]
    allowed_operations = ["b2_download_file_by_name", "s3_get", "s3_head"]
    allowed_headers    = ["range"]
    expose_headers     = ["x-bz-content-sha1"]
    max_age_seconds    = 3600
  }
}

bucket "records" {
  name = "acme-records"

  object_lock {
    enabled = true
    default_retention {
      mode = "governance"
      days = 30
    }
  }
}
