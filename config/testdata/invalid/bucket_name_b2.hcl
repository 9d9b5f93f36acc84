bucket "a" {
  name = "B2-assets" # ERROR: Invalid bucket name
}
