# Replication into a second account (docs/configuration.md, "replication"):
# every new upload under photos/ in acme-media is copied by B2 into acme-media-backup,
# which belongs to another account, and docs/ into a bucket of the same account.
#
#   B2_APPLICATION_KEY_ID=... B2_APPLICATION_KEY=... \
#   B2_BACKUP_APPLICATION_KEY_ID=... B2_BACKUP_APPLICATION_KEY=... \
#   b2plan apply examples/replication.hcl
#
# To try it locally, run one b2local with two accounts (replication crosses accounts inside
# one emulator; the embedded local:// emulators of two aliases are two separate stores):
#
#   b2local -account ID1:KEY1 -account ID2:KEY2 &
#   B2_ENDPOINT=http://127.0.0.1:8787 B2_APPLICATION_KEY_ID=ID1 B2_APPLICATION_KEY=KEY1 \
#   B2_BACKUP_ENDPOINT=http://127.0.0.1:8787 B2_BACKUP_APPLICATION_KEY_ID=ID2 B2_BACKUP_APPLICATION_KEY=KEY2 \
#   b2plan apply examples/replication.hcl
#
# b2plan creates the keys replication reads and writes with (b2plan-repl-src-acme-media,
# b2plan-repl-dst-acme-media-backup, b2plan-repl-dst-acme-media-docs), restricted to
# their bucket, and keeps none of their secrets: B2 needs only their ids.

provider "b2" {} # the account holding the source bucket

provider "b2" {
  alias = "backup" # the account holding the backup: B2_BACKUP_APPLICATION_KEY_ID / _KEY
}

bucket "media" {
  name = "acme-media"
}

bucket "backup" {
  provider = b2.backup
  name     = "acme-media-backup"
}

bucket "docs" {
  name = "acme-media-docs"
}

replication "media_to_backup" { # B2 rule name: media-to-backup
  source_bucket      = bucket.media.name
  destination_bucket = bucket.backup.name # the provider comes from the bucket block
  prefix             = "photos/"
  priority           = 10   # chooses among rules that cover the same file
  include_existing   = true # also copy what photos/ holds already
}

replication "docs" {
  source_bucket      = bucket.media.name
  destination_bucket = bucket.docs.name
  prefix             = "docs/"
  enabled            = false # declared, paused
}
