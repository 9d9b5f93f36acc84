b2plan {
  prune = "sometimes" # ERROR: Incorrect attribute value type
  owns {
    buckets = ["acme-[*"] # ERROR: Invalid glob pattern
  }
}
