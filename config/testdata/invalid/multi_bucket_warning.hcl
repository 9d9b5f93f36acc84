key "k" {
  access  = "read-only"
  buckets = ["acme-one", "acme-two"] # WARNING: Multi-bucket key
}
