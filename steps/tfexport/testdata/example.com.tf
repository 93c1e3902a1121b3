# Authenticated Origin Pulls of zone example.com (0123456789abcdef0123456789abcdef), exported by aopwizard.
# Terraform 1.5 or later imports each existing object on the first plan (import blocks); review that plan:
# it must show imports and no replacement. Private keys are read from var.aop_key_dir; the provider keeps
# them in its state, which must be stored as a secret.

terraform {
  required_providers {
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = ">= 5.17.0, < 6.0.0"
    }
  }
}

variable "aop_key_dir" {
  type        = string
  description = "Directory holding the private key of each uploaded certificate (the files named in the key file comments); Cloudflare never returns keys."
}

locals {
  zone_id    = "0123456789abcdef0123456789abcdef"
  account_id = "fedcba9876543210fedcba9876543210"
}

# SSL/TLS encryption mode: AOP needs full, strict or origin_pull
import {
  to = cloudflare_zone_setting.ssl
  id = "0123456789abcdef0123456789abcdef/ssl"
}
resource "cloudflare_zone_setting" "ssl" {
  zone_id    = local.zone_id
  setting_id = "ssl"
  value      = "strict"
}

# global AOP: Cloudflare's shared certificate, for hostnames no other level covers
import {
  to = cloudflare_zone_setting.tls_client_auth
  id = "0123456789abcdef0123456789abcdef/tls_client_auth"
}
resource "cloudflare_zone_setting" "tls_client_auth" {
  zone_id    = local.zone_id
  setting_id = "tls_client_auth"
  value      = "off"
}

# zone-level AOP: Cloudflare presents the newest active zone-level certificate for every proxied hostname
import {
  to = cloudflare_authenticated_origin_pulls_settings.zone
  id = "0123456789abcdef0123456789abcdef"
}
resource "cloudflare_authenticated_origin_pulls_settings" "zone" {
  zone_id = local.zone_id
  enabled = true
}

# zone certificate 2458ce5a-0c35-4c7f-82c7-8e9487d3ff60: status active, expires 2027-03-01; key file zone_2458ce5a.key
import {
  to = cloudflare_authenticated_origin_pulls_certificate.zone_2458ce5a
  id = "0123456789abcdef0123456789abcdef/2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"
}
resource "cloudflare_authenticated_origin_pulls_certificate" "zone_2458ce5a" {
  zone_id     = local.zone_id
  certificate = "-----BEGIN CERTIFICATE-----\nMIIBzone\n-----END CERTIFICATE-----\n"
  private_key = file("${var.aop_key_dir}/zone_2458ce5a.key")

  lifecycle {
    ignore_changes = [private_key]
  }
}

# hostname certificate 9b0f7e0a-1111-4222-8333-444455556666: status active, expires 2027-03-01; key file hostname_9b0f7e0a.key
import {
  to = cloudflare_authenticated_origin_pulls_hostname_certificate.hostname_9b0f7e0a
  id = "0123456789abcdef0123456789abcdef/9b0f7e0a-1111-4222-8333-444455556666"
}
resource "cloudflare_authenticated_origin_pulls_hostname_certificate" "hostname_9b0f7e0a" {
  zone_id     = local.zone_id
  certificate = "-----BEGIN CERTIFICATE-----\nMIIBhost\n-----END CERTIFICATE-----\n"
  private_key = file("${var.aop_key_dir}/hostname_9b0f7e0a.key")

  lifecycle {
    ignore_changes = [private_key]
  }
}

# association of app.example.com with certificate 9b0f7e0a-1111-4222-8333-444455556666 (status active)
import {
  to = cloudflare_authenticated_origin_pulls.app_example_com
  id = "0123456789abcdef0123456789abcdef/app.example.com"
}
resource "cloudflare_authenticated_origin_pulls" "app_example_com" {
  zone_id = local.zone_id
  config = [{
    cert_id  = cloudflare_authenticated_origin_pulls_hostname_certificate.hostname_9b0f7e0a.id
    enabled  = true
    hostname = "app.example.com"
  }]
}

# association of legacy.example.com with certificate 9b0f7e0a-1111-4222-8333-444455556666 (status active)
import {
  to = cloudflare_authenticated_origin_pulls.legacy_example_com
  id = "0123456789abcdef0123456789abcdef/legacy.example.com"
}
resource "cloudflare_authenticated_origin_pulls" "legacy_example_com" {
  zone_id = local.zone_id
  config = [{
    cert_id  = cloudflare_authenticated_origin_pulls_hostname_certificate.hostname_9b0f7e0a.id
    enabled  = false
    hostname = "legacy.example.com"
  }]
}

# notification policy p1 (zone_aop_custom_certificate_expiration_type); no import ID is documented for this type: import it by hand, or delete the existing policy after the first apply
resource "cloudflare_notification_policy" "expiry_zone_aop" {
  account_id = local.account_id
  name       = "AOP zone certificate expiry"
  alert_type = "zone_aop_custom_certificate_expiration_type"
  enabled    = true
  mechanisms = {
    email = [{
      id = "ops@example.com"
    }]
  }
}
