key "a" {
  name        = "acme-a"
  access      = "read-only"
  secret_file = "secrets/ci.env"
}
key "b" {
  name        = "acme-b"
  access      = "read-write"
  secret_file = "./secrets/../secrets/ci.env" # ERROR: Duplicate secret_file
}
key "c" {
  for_each    = toset(["x", "y"])
  name        = "acme-c-${each.key}"
  access      = "read-only"
  secret_file = "secrets/c.env" # ERROR: Duplicate secret_file
}
