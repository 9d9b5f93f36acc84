bucket "assets" {
  name            = "acme-assets"
  prevent_destroy = "yes please" # ERROR: Incorrect attribute value type
}
