bucket "assets" {
  name = "acme-assets"
  lifecycle_rules { # ERROR: Unsupported block type
    prefix = "a/"
  }
}
