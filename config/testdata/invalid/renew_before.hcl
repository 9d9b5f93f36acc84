key "ci" {
  access       = "read-only"
  duration     = "30d"
  renew_before = "720h" # ERROR: renew_before not shorter than duration
}
