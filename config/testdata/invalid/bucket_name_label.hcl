bucket "abc" { # ERROR: Invalid bucket name
}
