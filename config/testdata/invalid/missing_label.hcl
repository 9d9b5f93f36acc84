bucket { # ERROR: Missing name for bucket
  name = "acme-assets"
}
