key "ci" {
  access       = "read-only"
  capabilities = ["listFiles"] # ERROR: Conflicting access and capabilities
}
