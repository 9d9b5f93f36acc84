variable "env" { # ERROR: No value for required variable
  type = string
}
bucket "a" {
  name = "acme-${var.env}"
}
