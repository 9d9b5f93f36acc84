key "ci" {
  access   = "read-only"
  duration = "a month" # ERROR: Invalid duration
}
key "ci2" {
  access   = "read-only"
  duration = "1001d" # ERROR: Invalid duration
}
