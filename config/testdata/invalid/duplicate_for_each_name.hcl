bucket "logs" { # ERROR: Duplicate bucket name
  for_each = toset(["eu", "us"])
}
