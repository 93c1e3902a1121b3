package contract

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aopwizard/aopwizard/cfapi"
)

// Exception is one documented difference between the embedded 2024 spec and
// what Cloudflare does today (docs/cloudflare-api.md, "Spec exceptions"). Each
// is applied to the raw JSON before the spec is loaded; this file is the
// only place the contract is relaxed or extended.
type Exception struct {
	Name string
	// Why says which fact the 2024 spec misses and where it is documented.
	Why   string
	apply func(doc map[string]any) error
}

// Exceptions lists every patch applied to the spec, in order.
var Exceptions = []Exception{
	{
		Name: "uuid-certificate-ids",
		Why: "AOP certificate IDs are UUIDs (36 characters, docs/cloudflare-api.md, \"API conventions\"; cert_id maxLength 36 in spec26); " +
			"the 2024 spec reuses its 32-hex identifier schema for them",
		apply: func(doc map[string]any) error {
			s, err := schema(doc, "tls-certificates-and-hostnames_identifier")
			if err != nil {
				return err
			}
			s["maxLength"] = 36.0
			return nil
		},
	},
	{
		Name: "ssl-origin-pull",
		Why:  `the ssl setting also takes "origin_pull" (Strict (SSL-Only Origin Pull), docs/cloudflare-api.md, "SSL mode"); the 2024 enum stops at strict`,
		apply: func(doc map[string]any) error {
			s, err := schema(doc, "zones_ssl_value")
			if err != nil {
				return err
			}
			enum, _ := s["enum"].([]any)
			s["enum"] = append(enum, cfapi.SSLOriginPull)
			return nil
		},
	},
	{
		Name: "setting-patch-body",
		Why: `PATCH /zones/{zone_id}/settings/{setting_id} takes {"value": …} (docs/cloudflare-api.md, "Zone settings", the sdk and the docs); ` +
			`the 2024 spec's oneOf branches all require "id" too, so no real request would pass`,
		apply: func(doc map[string]any) error {
			op, err := operation(doc, "/zones/{zone_id}/settings/{setting_id}", "patch")
			if err != nil {
				return err
			}
			op["requestBody"] = map[string]any{
				"required": true,
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
					"type": "object", "required": []any{"value"},
					"properties": map[string]any{"id": map[string]any{"type": "string"}, "value": map[string]any{}},
				}}},
			}
			return nil
		},
	},
	{
		Name: "failure-envelopes",
		Why: "every 4XX response schema is allOf(success envelope with success:[true], failure envelope with success:[false]), " +
			"which no response can satisfy; the failure envelope alone is what Cloudflare sends (docs/cloudflare-api.md, \"API conventions\")",
		apply: func(doc map[string]any) error {
			return eachOperation(doc, func(_, _ string, op map[string]any) error {
				responses, _ := op["responses"].(map[string]any)
				for code, r := range responses {
					if !strings.HasPrefix(code, "4") {
						continue
					}
					media := jsonMedia(r)
					if media == nil {
						continue
					}
					if failure := failureBranch(doc, media["schema"]); failure != nil {
						media["schema"] = failure
					}
				}
				return nil
			})
		},
	},
	{
		Name: "mechanism-id-anyof",
		Why: "a notification mechanism id is oneOf(uuid string, email string): every UUID is also a string, so no id " +
			"matches exactly one branch; anyOf is what the spec means (docs/cloudflare-api.md, \"Expiration alerts\": email ids are addresses)",
		apply: func(doc map[string]any) error {
			s, err := schema(doc, "aaa_mechanisms")
			if err != nil {
				return err
			}
			ap, _ := s["additionalProperties"].(map[string]any)
			items, _ := ap["items"].(map[string]any)
			props, _ := items["properties"].(map[string]any)
			id, _ := props["id"].(map[string]any)
			one, ok := id["oneOf"]
			if !ok {
				return errors.New("aaa_mechanisms id has no oneOf")
			}
			delete(id, "oneOf")
			id["anyOf"] = one
			return nil
		},
	},
	{
		Name: "rate-limit-code-971",
		Why: "error and message codes are declared minimum 1000, but Cloudflare's documented 429 body carries code 971 " +
			"(docs/cloudflare-api.md, \"Rate limits\", developers.cloudflare.com api-rate-limits)",
		apply: func(doc map[string]any) error {
			n := 0
			walk(doc, func(m map[string]any) {
				props, _ := m["properties"].(map[string]any)
				code, _ := props["code"].(map[string]any)
				if _, hasMsg := props["message"]; hasMsg && code["minimum"] == 1000.0 {
					delete(code, "minimum")
					n++
				}
			})
			if n == 0 {
				return errors.New("no error code with minimum 1000 found")
			}
			return nil
		},
	},
	{
		Name: "delete-without-body",
		Why: "DELETE operations declare a required JSON body; the sdk and Terraform send none (docs/cloudflare-api.md, \"Deleting a hostname certificate\") and Cloudflare " +
			"accepts that",
		apply: func(doc map[string]any) error {
			return eachOperation(doc, func(_, method string, op map[string]any) error {
				if rb, ok := op["requestBody"].(map[string]any); ok && method == "delete" {
					rb["required"] = false
				}
				return nil
			})
		},
	},
	{
		Name: "account-token-verify",
		Why:  "GET /accounts/{account_id}/tokens/verify verifies account (cfat_) tokens (docs/cloudflare-api.md, \"Token verification\", cloudflare-docs#29486); absent from the 2024 spec",
		apply: func(doc map[string]any) error {
			user, err := operation(doc, "/user/tokens/verify", "get")
			if err != nil {
				return err
			}
			op := copyMap(user)
			op["operationId"] = "account-api-tokens-verify-token"
			op["parameters"] = []any{pathParam("account_id", 32)}
			paths(doc)["/accounts/{account_id}/tokens/verify"] = map[string]any{"get": op}
			return nil
		},
	},
	{
		Name: "hidden-list-associations",
		Why: "GET /zones/{zone_id}/origin_tls_client_auth/hostnames lists associations (spec26, x-forge-hidden, docs/cloudflare-api.md, \"Hidden list of associations\"); " +
			"absent from the 2024 spec. Modelled on the PUT's response collection plus result_info",
		apply: func(doc map[string]any) error {
			put, err := operation(doc, "/zones/{zone_id}/origin_tls_client_auth/hostnames", "put")
			if err != nil {
				return err
			}
			op := map[string]any{
				"operationId": "per-hostname-authenticated-origin-pull-list-hostname-associations",
				"parameters": []any{
					pathParam("zone_id", 32),
					queryParam("page", map[string]any{"type": "integer", "minimum": 1.0}),
					queryParam("per_page", map[string]any{"type": "integer", "minimum": 1.0, "maximum": 1000.0}),
					queryParam("status", map[string]any{"type": "string"}),
				},
				"responses": copyMap(put["responses"].(map[string]any)),
			}
			paths(doc)["/zones/{zone_id}/origin_tls_client_auth/hostnames"].(map[string]any)["get"] = op
			return nil
		},
	},
}

// walk calls f for every JSON object in v, depth first.
func walk(v any, f func(map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		f(t)
		for _, x := range t {
			walk(x, f)
		}
	case []any:
		for _, x := range t {
			walk(x, f)
		}
	}
}

func paths(doc map[string]any) map[string]any {
	p, _ := doc["paths"].(map[string]any)
	return p
}

func schema(doc map[string]any, name string) (map[string]any, error) {
	comps, _ := doc["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	s, ok := schemas[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema %s is missing", name)
	}
	return s, nil
}

func operation(doc map[string]any, path, method string) (map[string]any, error) {
	item, ok := paths(doc)[path].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("path %s is missing", path)
	}
	op, ok := item[method].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("operation %s %s is missing", strings.ToUpper(method), path)
	}
	return op, nil
}

func eachOperation(doc map[string]any, f func(path, method string, op map[string]any) error) error {
	for path, item := range paths(doc) {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			o, ok := op.(map[string]any)
			if !ok || method == "parameters" {
				continue
			}
			if err := f(path, method, o); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonMedia(r any) map[string]any {
	resp, _ := r.(map[string]any)
	content, _ := resp["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	return media
}

// failureBranch returns the allOf element (possibly a $ref) whose success
// is enum [false].
func failureBranch(doc map[string]any, s any) map[string]any {
	m, _ := s.(map[string]any)
	all, _ := m["allOf"].([]any)
	for _, b := range all {
		bm, _ := b.(map[string]any)
		target := bm
		if ref, ok := bm["$ref"].(string); ok {
			target, _ = schema(doc, strings.TrimPrefix(ref, "#/components/schemas/"))
		}
		props, _ := target["properties"].(map[string]any)
		success, _ := props["success"].(map[string]any)
		if enum, _ := success["enum"].([]any); len(enum) == 1 && enum[0] == false {
			return bm
		}
	}
	return nil
}

func pathParam(name string, maxLen float64) map[string]any {
	return map[string]any{"in": "path", "name": name, "required": true,
		"schema": map[string]any{"type": "string", "maxLength": maxLen}}
}

func queryParam(name string, s map[string]any) map[string]any {
	return map[string]any{"in": "query", "name": name, "schema": s}
}

// copyMap deep-copies JSON objects so patched copies do not alias.
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return copyMap(t)
	case []any:
		c := make([]any, len(t))
		for i := range t {
			c[i] = copyValue(t[i])
		}
		return c
	}
	return v
}
