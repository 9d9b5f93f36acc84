bucket "a" {
  name = "acme-assets"
}
bucket "b" {
  name = "ACME-assets" # ERROR: Duplicate bucket name
}
