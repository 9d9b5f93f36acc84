bucket "logs" {
  name = "acme-logs-${each.key}" # ERROR: each is only valid with for_each
}
