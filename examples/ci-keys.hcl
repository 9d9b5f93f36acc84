# One key per CI environment, each restricted to its environment's prefix in a shared bucket.

variable "environments" {
  type = map(object({
    access   = string
    lifetime = string
  }))
  default = {
    dev = {
      access   = "read-write"
      lifetime = "30d"
    }
    staging = {
      access   = "read-write"
      lifetime = "90d"
    }
    prod = {
      access   = "read-only"
      lifetime = "365d"
    }
  }
}

locals {
  org = "acme"
}

b2plan {
  owns {
    buckets = ["${local.org}-*"]
    keys    = ["${local.org}-ci-*"]
  }
  prune = false
}

bucket "artifacts" {
  name = "${local.org}-ci-artifacts"

  lifecycle_rule {
    prefix                                                 = ""
    days_from_starting_to_canceling_unfinished_large_files = 1
  }
}

key "ci" {
  for_each = var.environments

  name         = "${local.org}-ci-${each.key}"
  access       = each.value.access
  buckets      = [bucket.artifacts.name]
  name_prefix  = "${each.key}/"
  duration     = each.value.lifetime
  renew_before = "7d"
  secret_file  = "secrets/ci-${each.key}.env"
}

folder "env" {
  for_each = var.environments

  bucket = bucket.artifacts.name
  path   = "${each.key}/"
}
