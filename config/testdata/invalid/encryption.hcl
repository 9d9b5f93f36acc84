bucket "assets" {
  name       = "acme-assets"
  encryption = "SSE-C" # ERROR: Invalid value for encryption
}
