bucket "assets" {
  name = "acme-assets"
  lifecycle_rule {
    prefix                       = "photos/"
    days_from_hiding_to_deleting = 1
  }
  lifecycle_rule {
    prefix                       = "photos/kittens/" # ERROR: Overlapping lifecycle rules
    days_from_hiding_to_deleting = 2
  }
}
