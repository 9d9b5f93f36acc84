# indent() of many lines.
# WANT: value too large
locals {
  a = join("\n", [for i in range(1000) : "x\nx\nx\nx\nx\nx\nx\nx"])
  b = indent(1000, local.a)
}
