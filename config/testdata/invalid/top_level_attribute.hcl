prefix = "acme" # ERROR: Unsupported argument
