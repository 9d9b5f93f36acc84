bucket "assets" {
  name                   = "acme-assets"
  keep_only_last_version = true
  lifecycle_rule {
    prefix                        = "logs/" # ERROR: Overlapping lifecycle rules
    days_from_uploading_to_hiding = 1
  }
}
