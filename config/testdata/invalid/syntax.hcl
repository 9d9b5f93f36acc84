bucket "assets" {
  name = "acme-assets"
  type = "allPrivate" "x" # ERROR: Missing newline after argument
}
