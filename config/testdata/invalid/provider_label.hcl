provider "aws" { # ERROR: Unsupported provider
}
