# range() of a billion numbers.
# WANT: more than 1024 values
locals {
  x = range(1000000000)
}
