key "ci" {
  name   = "k${join("", [for i in range(100) : "x"])}" # ERROR: Invalid key name
  access = "read-only"
}
