key "ci" { # ERROR: Missing access or capabilities
  name = "acme-ci"
}
