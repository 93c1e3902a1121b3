// Package cfsim is an in-memory simulator of the Cloudflare API calls that
// Authenticated Origin Pulls needs, and of Cloudflare's edge presenting the
// AOP client certificate to an origin. Tests and `aopwizard sim` use it in
// place of api.cloudflare.com; it follows docs/cloudflare-api.md, from "API
// conventions" to "Rate limits", as "Simulator scope" there lists.
//
// # Use
//
//	sim := cfsim.New(cfsim.Options{Zones: []string{"example.com"}})
//	srv := httptest.NewServer(sim.Handler())
//	base := srv.URL + "/client/v4/"   // option.WithBaseURL(base)
//	token := sim.Token()              // "Authorization: Bearer " + token
//	zoneID := sim.ZoneID("example.com")
//
// # Endpoints (below /client/v4)
//
//	GET    /user/tokens/verify                       user (cfut_, unprefixed) tokens
//	GET    /accounts/{a}/tokens/verify                account (cfat_) tokens
//	GET    /zones?name=&page=&per_page=&account.id=&status=&direction=
//	GET    /zones/{z}
//	GET    /zones/{z}/settings/{ssl|tls_client_auth}
//	PATCH  /zones/{z}/settings/{ssl|tls_client_auth}  {"value":…}
//	POST   /zones/{z}/origin_tls_client_auth                      zone-level upload
//	GET    /zones/{z}/origin_tls_client_auth[/{cert_id}]
//	DELETE /zones/{z}/origin_tls_client_auth/{cert_id}
//	GET|PUT /zones/{z}/origin_tls_client_auth/settings            {"enabled":bool}
//	POST   /zones/{z}/origin_tls_client_auth/hostnames/certificates
//	GET    /zones/{z}/origin_tls_client_auth/hostnames/certificates[/{cert_id}]
//	DELETE /zones/{z}/origin_tls_client_auth/hostnames/certificates/{cert_id}
//	PUT    /zones/{z}/origin_tls_client_auth/hostnames            {"config":[…]}
//	GET    /zones/{z}/origin_tls_client_auth/hostnames/{hostname}
//	GET    /zones/{z}/origin_tls_client_auth/hostnames            hidden list (see docs/cloudflare-api.md)
//	GET|POST /accounts/{a}/alerting/v3/policies
//	GET|PUT|DELETE /accounts/{a}/alerting/v3/policies/{id}
//
// # Behaviour worth knowing
//
//   - Envelope {success, errors, messages, result} (+ result_info on lists)
//     exactly as Cloudflare's. Error codes are the Code* constants; those
//     marked cfsim-invented stand for failures whose real code Cloudflare
//     does not document: match on HTTP status and message, not on them.
//   - Auth: a malformed Authorization header is 400/6003 with error_chain
//     6111; no credentials is 400/9106; a wrong token is 401/1000 on the
//     verify endpoints and 403/9109 "Invalid access token" elsewhere; an account token on
//     /user/tokens/verify (and a user token on the account endpoint) is
//     401/1000. A token lacking the permission group (Options.Scopes) gets
//     403/10000 "Authentication error"; a zone outside its scopes is 404/7003
//     and missing from GET /zones.
//   - Deployment is driven by GETs, not time: a certificate (or association)
//     is initializing until the first GET that returns it, then
//     pending_deployment, and active once Options.DeployAfter GETs have
//     observed it (DeployAfter 0: active in the upload response). A listing
//     that returns an object (the certificate lists, the hidden association
//     list) counts as a GET of it, so list polling advances deployments too.
//     Options.HideAssociationList answers the hidden list 404, as where
//     Cloudflare does not serve it. Delete
//     answers pending_deletion; later GETs show deleted. Deleted
//     certificates stay in lists, as Cloudflare's may.
//   - PUT …/hostnames validates every entry before applying any. enabled is
//     required (true, false or null); null voids: the PUT answer shows null
//     and later GETs enabled:false with status pending_deletion/deleted.
//   - Faults (Options.Faults) are chosen from Seed and the request index
//     only. 429, 5xx and reset never change state; reset_after applies the
//     request and then drops the connection; latency delays, then applies.
//   - Requests() is the log. Private keys, tokens and passwords are
//     replaced by "[redacted]" in bodies and query strings of any shape
//     (JSON, form, cut off, percent-encoded), and the simulator's own
//     credentials wherever they appear; headers are never recorded. An entry is recorded
//     before its answer is sent or its connection dropped, so a client
//     never sees an outcome the log lacks; the exception is a latency
//     fault the client abandons, logged once the server notices.
//
// # Options
//
// Options.Validate (and ServeOptions.Validate with the listen addresses and
// the edge) reports an *OptionError naming the option; zone names follow
// pki.ValidateDomain. Start validates, then serves the API and the edge on
// loopback addresses as `aopwizard sim` does.
//
// # Edge
//
// StartEdge runs an HTTPS front door for one zone that proxies to an origin
// as Cloudflare would, by the zone's ssl mode, presenting the client
// certificate AOP precedence picks for the request's Host: a per-hostname
// association (enabled:true, certificate and association active) beats
// enabled:false (no certificate for that host), which beats zone-level
// (enabled, the most recently activated active zone certificate), which
// beats global (tls_client_auth=on: a certificate from the simulator's
// stand-in CA, GlobalCAPEM). AOP applies only in full, strict and
// origin_pull modes; off and flexible proxy over plain HTTP. The edge sets
// SNI to the request's Host, skips origin certificate checks in full mode
// and verifies them against EdgeOptions.OriginRootCAs in strict and
// origin_pull. Failures answer like Cloudflare's plain-text error pages
// ("error code: 525"):
//
//	521  the origin refused the TCP connection
//	522  the TCP connect timed out (EdgeOptions.DialTimeout)
//	524  no response headers in time (EdgeOptions.ResponseTimeout)
//	525  TLS handshake failed, or the origin sent a TLS alert right after
//	     it: TLS 1.3 origins reject a missing or untrusted client
//	     certificate that way, and Cloudflare reports a failed handshake
//	526  strict/origin_pull and the origin's certificate does not verify
//	520  anything else (reset or EOF after the handshake, bad response)
//	530  the Host is not in the zone (Cloudflare's 1001 DNS error)
//
// Every edge response carries cf-ray. Two cfsim-only headers help tests:
// X-Cfsim-Aop-Level (HeaderAOPLevel: hostname, hostname-disabled, zone,
// global or none) and, on failures, X-Cfsim-Error with the cause.
package cfsim
