bucket "assets" {
  name = "acme-assets"
  lifecycle_rule {
    prefix                        = "logs/"
    days_from_uploading_to_hiding = 0 # ERROR: Invalid lifecycle rule days
    days_from_hiding_to_deleting  = -3 # ERROR: Invalid lifecycle rule days
  }
}
