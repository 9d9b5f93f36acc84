bucket "assets" {
  name = "acme-assets"
  info = {
    "bad key!" = "x" # ERROR: Invalid bucket info key
  }
}
