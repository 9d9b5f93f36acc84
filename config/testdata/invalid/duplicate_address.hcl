bucket "assets" {
  name = "acme-assets"
}
bucket "assets" { # ERROR: Duplicate address
  name = "acme-assets-2"
}
