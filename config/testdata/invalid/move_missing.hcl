move "m" { # ERROR: Missing required argument
  bucket = "acme-assets"
  from   = "a/"
}
