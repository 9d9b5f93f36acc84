bucket "logs" {
  for_each = ["eu", "us"] # ERROR: Invalid for_each argument
  name     = "acme-logs-${each.key}"
}
