bucket "records" {
  name = "acme-records"
  object_lock {
    enabled = false
    default_retention { # ERROR: Default retention without Object Lock
      mode = "legal" # ERROR: Invalid value for mode
      days = 3
    }
  }
}
