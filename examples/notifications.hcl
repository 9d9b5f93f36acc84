# Event notifications: B2 POSTs a signed JSON body to the webhook for each
# upload under uploads/ (docs/configuration.md, "Event notification rules").
#
#   B2PLAN_VAR_hook_secret=$(openssl rand -hex 16) b2plan apply examples/notifications.hcl
#
# The receiver checks the header X-Bz-Event-Notification-Signature:
# "v1=" + hex(HMAC-SHA256(body, secret)).

variable "hook_secret" {
  type      = string
  sensitive = true
  default   = null # unset: deliveries are not signed
}

bucket "media" {
  name = "acme-media-example"

  notification_rule {
    name        = "on-upload"
    event_types = ["b2:ObjectCreated:*"]
    prefix      = "uploads/"
    webhook {
      url            = "https://hooks.example.com/b2"
      signing_secret = var.hook_secret
      headers        = { "X-Team" = "web" }
    }
  }
}
