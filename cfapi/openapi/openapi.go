// Package openapi embeds the subset of Cloudflare's published OpenAPI spec
// (cloudflare/api-schemas, 2024-08 snapshot, BSD-3-Clause) that the AOP
// calls use, for contract tests (see cfapi/contract).
package openapi

import _ "embed"

// Spec is the OpenAPI 3.0 document as JSON. It predates some facts
// docs/cloudflare-api.md records ("Spec exceptions"); cfapi/contract
// patches those in one place.
//
//go:embed cloudflare-openapi-aop.json
var Spec []byte
