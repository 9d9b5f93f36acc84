key "ci" {
  access = "readonly" # ERROR: Invalid access preset
}
