# jsondecode of deeply nested JSON built by a function (the decoder recurses per level).
# WANT: nested more than 256 levels
locals {
  x = jsondecode("${join("", [for i in range(1000) : "["])}${join("", [for i in range(1000) : "]"])}")
}
