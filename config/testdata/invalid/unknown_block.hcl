buckit "assets" { # ERROR: Unsupported block type
  name = "acme-assets"
}
