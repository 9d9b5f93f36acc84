move "m" {
  bucket      = "acme-assets"
  from        = "a/"
  to          = "b/"
  versions    = "newest" # ERROR: Invalid value for versions
  source      = "remove" # ERROR: Invalid value for source
  on_conflict = "overwrit" # ERROR: Invalid value for on_conflict
}
