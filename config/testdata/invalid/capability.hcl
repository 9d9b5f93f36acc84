key "ci" {
  capabilities = ["listFiles", "readfiles"] # ERROR: Invalid capability
}
