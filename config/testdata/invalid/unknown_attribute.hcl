bucket "assets" {
  name = "acme-assets"
  tpye = "allPublic" # ERROR: Unsupported argument
}
