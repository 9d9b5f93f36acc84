folder "f" {
  bucket = buckets.assets.name # ERROR: Unknown variable
  path   = "x/"
}
