key "ci" {
  name   = "acme ci" # ERROR: Invalid key name
  access = "read-only"
}
