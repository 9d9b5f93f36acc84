move "m" {
  bucket = "acme-assets"
  from   = "incoming" # ERROR: Invalid move prefix
  to     = "" # ERROR: Invalid move prefix
}
