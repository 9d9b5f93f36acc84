bucket "assets" {
  name = "acme-assets"
  type = "allprivate" # ERROR: Invalid value for type
}
