# Nested for expressions building objects, used by a bucket.
# WANT: Configuration too large to evaluate
locals {
  m = { for a in range(1000) : "k${a}" => { for b in range(1000) : "k${b}" => [for c in range(1000) : c] } }
}
bucket "b" {
  name = "acme-${length(local.m)}"
}
