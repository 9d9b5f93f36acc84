bucket "records" {
  name = "acme-records"
  object_lock {
    default_retention {
      mode  = "compliance"
      days  = 3
      years = 1 # ERROR: Conflicting retention period
    }
  }
}
bucket "records2" {
  name = "acme-records2"
  object_lock {
    default_retention { # ERROR: Missing retention period
      mode = "governance"
    }
  }
}
