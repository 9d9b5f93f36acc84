bucket "assets" {
  name = "acme-assets"
  cors_rule { # ERROR: Missing required argument
    name            = "downloads"
    allowed_origins = ["*"]
  }
}
