move "m" {
  bucket = "acme-assets"
  from   = "a/"
  to     = "a/" # ERROR: Move to the same place
}
