# Two sites built from one local module, a bucket of a second account (provider alias),
# an existing bucket read with a data source, and outputs.
#
#   b2plan plan examples/modules
#   b2plan apply examples/modules && b2plan output -json examples/modules
#
# Without endpoints or credentials both accounts are embedded emulators
# (.b2plan/local and .b2plan/local-backup next to this file).

provider "b2" {
  alias = "backup" # credentials: B2_BACKUP_APPLICATION_KEY_ID / B2_BACKUP_APPLICATION_KEY
}

variable "sites" {
  type    = set(string)
  default = ["docs", "shop"]
}

module "site" {
  for_each = var.sites
  source   = "./modules/site"
  name     = "acme-${each.key}"
}

bucket "vault" {
  provider = b2.backup
  name     = "acme-vault"
  info     = { sites = join(",", sort(tolist(var.sites))) }
}

data "account" "backup" {
  provider = b2.backup
}

output "site_bucket_ids" {
  description = "id of each site's asset bucket"
  value       = { for k, s in module.site : k => s.bucket_id }
}

output "uploader_key_ids" {
  value = { for k, s in module.site : k => s.uploader_key_id }
}

output "backup_account" {
  value = data.account.backup.account_id
}
