package cfsim

import (
	"encoding/json"
	"net/http"
	"time"
)

// Error codes. Cloudflare documents general API codes only
// (docs/cloudflare-api.md, "Errors");
// every code marked "cfsim-invented" stands for an AOP failure whose real code
// is unknown, so tests must not treat it as a Cloudflare contract.
const (
	CodeInvalidToken        = 1000  // Cloudflare: "Invalid API Token" (verify endpoints)
	CodeMalformedJSON       = 6007  // Cloudflare: "Malformed JSON in request body" (from live responses; not in the reference)
	CodeInvalidHeaders      = 6003  // Cloudflare: "Invalid request headers"; carries an error_chain
	CodeBadAuthorization    = 6111  // Cloudflare: chain element "Invalid format for Authorization header"
	CodeBadAuthKey          = 6103  // Cloudflare: chain element "Invalid format for X-Auth-Key header"
	CodeNoRoute             = 7000  // Cloudflare: "No route for that URI"
	CodeNotFound            = 7003  // Cloudflare: "Could not route to …, perhaps your object identifier is invalid?"
	CodeRateLimited         = 971   // Cloudflare: "Please wait and consider throttling your request speed"
	CodeMissingAuth         = 9106  // Cloudflare: missing X-Auth-Key/X-Auth-Email/Authorization (from live responses; not in the reference)
	CodeUnknownKey          = 9103  // Cloudflare: "Unknown X-Auth-Key or X-Auth-Email" (from live responses; not in the reference)
	CodeInvalidAccessToken  = 9109  // Cloudflare: "Invalid access token"
	CodeAuthentication      = 10000 // Cloudflare: "Authentication error" (token lacks the permission group)
	CodeInternal            = 10002 // cfsim-invented stand-in for Cloudflare's 5xx envelope
	CodeUnavailable         = 10043 // cfsim-invented stand-in for Cloudflare's 503 envelope
	CodeInvalidSettingValue = 1007  // cfsim-invented: invalid value for a zone setting
	CodeMissingLeaf         = 1406  // cfsim-invented: "missing leaf certificate"
	CodeEncryptedKey        = 1407  // cfsim-invented: password-protected key
	CodeKeyMismatch         = 1408  // cfsim-invented: key does not match certificate
	CodeDuplicate           = 1409  // cfsim-invented: "This certificate already exists for this zone."
	CodeHostnameCertLimit   = 1410  // cfsim-invented: more than 10 hostname certificates
	CodeAssociationLimit    = 1411  // cfsim-invented: more than 100 hostnames per certificate
	CodeNotHostnameCert     = 1412  // cfsim-invented: cert_id is not a hostname certificate
	CodeCertAssociated      = 1413  // cfsim-invented: delete refused, association not voided
	CodeInvalidCert         = 1414  // cfsim-invented: certificate PEM unparseable
	CodeInvalidKey          = 1415  // cfsim-invented: private key PEM unparseable or unsupported
	CodeHostnameNotInZone   = 1416  // cfsim-invented: association hostname outside the zone
	CodeInvalidRequest      = 1417  // cfsim-invented: a required field is missing or has the wrong type
	CodeInvalidAlertType    = 17102 // cfsim-invented: unknown alert_type in a notification policy
)

// apiError is one element of the envelope's errors array.
type apiError struct {
	Code       int        `json:"code"`
	Message    string     `json:"message"`
	ErrorChain []apiError `json:"error_chain,omitempty"`
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

type envelope struct {
	Success    bool        `json:"success"`
	Errors     []apiError  `json:"errors"`
	Messages   []apiError  `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
}

// apiFailure is an error a handler returns to answer with Cloudflare's
// failure envelope.
type apiFailure struct {
	status int
	errs   []apiError
}

func (f *apiFailure) Error() string { return f.errs[0].Message }

func fail(status, code int, msg string) *apiFailure {
	return &apiFailure{status: status, errs: []apiError{{Code: code, Message: msg}}}
}

func notFound(what string) *apiFailure {
	return fail(http.StatusNotFound, CodeNotFound, "Could not route to "+what+", perhaps your object identifier is invalid?")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"success":false,"errors":[{"code":10002,"message":"cfsim could not encode the response"}],"messages":[],"result":null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeOK(w http.ResponseWriter, result any, info *resultInfo) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Errors: []apiError{}, Messages: []apiError{}, Result: result, ResultInfo: info})
}

func writeFailure(w http.ResponseWriter, f *apiFailure) {
	writeJSON(w, f.status, envelope{Success: false, Errors: f.errs, Messages: []apiError{}, Result: nil})
}

// timestamp formats t as Cloudflare does: RFC 3339, UTC, with fractional
// seconds (a whole second still gets a fraction, as ".000000").
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// page slices items for page/per_page and returns result_info.
func page[T any](items []T, pg, perPage int) ([]T, *resultInfo) {
	total := len(items)
	pages := 0
	if perPage > 0 {
		pages = (total + perPage - 1) / perPage
	}
	start := (pg - 1) * perPage
	if start > total {
		start = total
	}
	end := min(start+perPage, total)
	out := items[start:end]
	if out == nil {
		out = []T{}
	}
	return out, &resultInfo{Page: pg, PerPage: perPage, Count: len(out), TotalCount: total, TotalPages: pages}
}
