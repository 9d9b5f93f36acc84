# A large separator between many elements.
# WANT: value too large
locals {
  a = join("", [for i in range(1000) : "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
  b = join(local.a, range(1000))
}
