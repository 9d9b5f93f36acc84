bucket "assets" {
  name = format("acme-%d", "x") # ERROR: Error in function call
}
