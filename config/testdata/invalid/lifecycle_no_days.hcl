bucket "assets" {
  name = "acme-assets"
  lifecycle_rule { # ERROR: Empty lifecycle rule
    prefix = "logs/"
  }
}
