# replace() multiplying a string by itself.
# WANT: value too large
locals {
  a = join("", [for i in range(1000) : "aaaaaaaaaa"])
  b = replace(local.a, "a", local.a)
  c = replace(local.b, "a", local.b)
}
