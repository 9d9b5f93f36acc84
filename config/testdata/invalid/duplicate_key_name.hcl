key "a" {
  name   = "acme-ci"
  access = "read-only"
}
key "b" {
  name   = "acme-ci" # ERROR: Duplicate key name
  access = "read-write"
}
