move "a" {
  bucket = "acme-assets"
  from   = "incoming/"
  to     = "archive/"
}
move "b" {
  bucket = "acme-assets"
  from   = "incoming/2024/" # ERROR: Overlapping moves
  to     = "old/2024/"
}
