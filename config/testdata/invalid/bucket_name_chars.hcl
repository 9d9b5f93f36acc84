bucket "a" {
  name = "acme_assets" # ERROR: Invalid bucket name
}
