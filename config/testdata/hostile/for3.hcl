# Three nested for expressions over 1,000 elements: 10^9 iterations.
# WANT: Configuration too large to evaluate
locals {
  x = [for a in range(1000) : [for b in range(1000) : [for c in range(1000) : 1]]]
}
