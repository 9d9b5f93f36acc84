provider "b2" {
  endpoint        = "ftp://example.com" # ERROR: Invalid endpoint
  application_key = "K001secret" # WARNING: Literal secret in provider block
}
