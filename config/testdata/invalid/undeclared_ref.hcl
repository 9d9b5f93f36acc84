bucket "assets" {
  name = "acme-assets"
}
folder "f" {
  bucket = bucket.asset.name # ERROR: Reference to undeclared bucket
  path   = "x/"
}
key "k" {
  name   = var.prefix # ERROR: Reference to undeclared input variable
  access = local.acces # ERROR: Reference to undeclared local value
}
locals {
  access = "read-only"
}
