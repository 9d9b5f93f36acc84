bucket "a" {
  name = "abc" # ERROR: Invalid bucket name
}
