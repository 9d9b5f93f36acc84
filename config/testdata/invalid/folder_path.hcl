folder "f" {
  bucket = "acme-assets"
  path   = "builds" # ERROR: Invalid folder path
}
