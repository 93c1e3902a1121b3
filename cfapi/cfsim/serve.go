package cfsim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const apiPrefix = "/client/v4"

// maxBody bounds request bodies; certificates with RSA-4096 keys are a few KB.
const maxBody = 1 << 20

// principal is who the request authenticated as.
type principal struct {
	key          bool // legacy X-Auth-Key
	accountToken bool // a cfat_ (or legacy account) token
}

// call carries one request through a route handler; s.mu is held.
type call struct {
	r      *http.Request
	body   []byte
	params map[string]string
	zone   *zone
	who    principal
}

// reply is what a handler produces; status 0 means 200.
type reply struct {
	result any
	info   *resultInfo
}

type handlerFunc func(s *Sim, c *call) (reply, error)

// route is one API endpoint. Patterns are below /client/v4 with {name}
// segments; literal segments win over parameters because routes are tried
// in order and literal routes come first.
type route struct {
	method  string
	pattern []string
	// perm is the permission group the call needs: a zone group for
	// /zones/{zone_id}/…, an account group for /accounts/…, "" for none.
	perm    string
	handler handlerFunc
}

func r(method, pattern, perm string, h handlerFunc) route {
	return route{method: method, pattern: strings.Split(strings.Trim(pattern, "/"), "/"), perm: perm, handler: h}
}

var routes = []route{
	r("GET", "user/tokens/verify", "", (*Sim).verifyUserToken),
	r("GET", "accounts/{account_id}/tokens/verify", "", (*Sim).verifyAccountToken),
	r("GET", "zones", PermZoneRead, (*Sim).listZones),
	r("GET", "zones/{zone_id}", PermZoneRead, (*Sim).getZone),
	r("GET", "zones/{zone_id}/settings/{setting_id}", PermZoneSettingsRead, (*Sim).getSetting),
	r("PATCH", "zones/{zone_id}/settings/{setting_id}", PermZoneSettingsWrite, (*Sim).patchSetting),
	r("GET", "zones/{zone_id}/origin_tls_client_auth/settings", PermSSLRead, (*Sim).getZoneAOP),
	r("PUT", "zones/{zone_id}/origin_tls_client_auth/settings", PermSSLWrite, (*Sim).putZoneAOP),
	r("GET", "zones/{zone_id}/origin_tls_client_auth/hostnames/certificates", PermSSLRead, (*Sim).listHostnameCerts),
	r("POST", "zones/{zone_id}/origin_tls_client_auth/hostnames/certificates", PermSSLWrite, (*Sim).uploadHostnameCert),
	r("GET", "zones/{zone_id}/origin_tls_client_auth/hostnames/certificates/{certificate_id}", PermSSLRead, (*Sim).getHostnameCert),
	r("DELETE", "zones/{zone_id}/origin_tls_client_auth/hostnames/certificates/{certificate_id}", PermSSLWrite, (*Sim).deleteHostnameCert),
	r("PUT", "zones/{zone_id}/origin_tls_client_auth/hostnames", PermSSLWrite, (*Sim).putAssociations),
	r("GET", "zones/{zone_id}/origin_tls_client_auth/hostnames", PermSSLRead, (*Sim).listAssociations),
	r("GET", "zones/{zone_id}/origin_tls_client_auth/hostnames/{hostname}", PermSSLRead, (*Sim).getAssociation),
	r("GET", "zones/{zone_id}/origin_tls_client_auth", PermSSLRead, (*Sim).listZoneCerts),
	r("POST", "zones/{zone_id}/origin_tls_client_auth", PermSSLWrite, (*Sim).uploadZoneCert),
	r("GET", "zones/{zone_id}/origin_tls_client_auth/{certificate_id}", PermSSLRead, (*Sim).getZoneCert),
	r("DELETE", "zones/{zone_id}/origin_tls_client_auth/{certificate_id}", PermSSLWrite, (*Sim).deleteZoneCert),
	r("GET", "accounts/{account_id}/alerting/v3/policies", PermNotificationsWrite, (*Sim).listPolicies),
	r("POST", "accounts/{account_id}/alerting/v3/policies", PermNotificationsWrite, (*Sim).createPolicy),
	r("GET", "accounts/{account_id}/alerting/v3/policies/{policy_id}", PermNotificationsWrite, (*Sim).getPolicy),
	r("PUT", "accounts/{account_id}/alerting/v3/policies/{policy_id}", PermNotificationsWrite, (*Sim).updatePolicy),
	r("DELETE", "accounts/{account_id}/alerting/v3/policies/{policy_id}", PermNotificationsWrite, (*Sim).deletePolicy),
}

// match finds the route for method and the path segments.
func match(method string, segs []string) (*route, map[string]string) {
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || len(rt.pattern) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, p := range rt.pattern {
			if strings.HasPrefix(p, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				params[strings.Trim(p, "{}")] = segs[j]
			} else if p != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return rt, params
		}
	}
	return nil, nil
}

func (s *Sim) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
	if err != nil {
		writeFailure(w, fail(http.StatusBadRequest, CodeMalformedJSON, "could not read the request body"))
		return
	}
	path := strings.TrimPrefix(req.URL.Path, apiPrefix)
	entry := Request{Time: s.clock(), Method: req.Method, Path: path, Query: req.URL.RawQuery, Auth: authKind(req)}
	s.redactEntry(&entry, body)

	s.mu.Lock()
	entry.Index = s.next
	s.next++
	fault := s.faultFor(entry.Index, path)
	s.mu.Unlock()
	entry.Fault, entry.Faulted = fault, fault != ""

	// Every entry is logged before its answer (or dropped connection)
	// leaves, so a client that has seen the outcome finds it in the log.
	switch fault {
	case Fault429, Fault5xx, FaultReset:
		entry.Status = s.injectedStatus(fault, entry.Index)
		s.record(entry)
		s.writeInjected(w, entry.Status)
		return
	case FaultLatency:
		t := time.NewTimer(s.opts.Faults.Latency)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			s.record(entry) // status 0: the client gave up
			return
		}
	}

	status, out := s.dispatch(req, path, body)
	if fault == FaultResetAfter {
		s.record(entry)
		dropConnection(w)
		return
	}
	entry.Status = status
	s.record(entry)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// dispatch routes, authenticates, authorises and runs the handler, with the
// state lock held, and returns the encoded response.
func (s *Sim) dispatch(req *http.Request, path string, body []byte) (int, []byte) {
	rec := &bufferWriter{header: http.Header{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.handle(rec, req, path, body); err != nil {
		var f *apiFailure
		if !errors.As(err, &f) {
			f = fail(http.StatusInternalServerError, CodeInternal, "cfsim: "+err.Error())
		}
		rec = &bufferWriter{header: http.Header{}}
		writeFailure(rec, f)
	}
	return rec.status, rec.buf.Bytes()
}

func (s *Sim) handle(w http.ResponseWriter, req *http.Request, path string, body []byte) error {
	if !strings.HasPrefix(req.URL.Path, apiPrefix+"/") {
		return fail(http.StatusNotFound, CodeNoRoute, "No route for that URI")
	}
	rt, params := match(req.Method, strings.Split(strings.Trim(path, "/"), "/"))
	if rt == nil {
		return fail(http.StatusNotFound, CodeNoRoute, "No route for that URI")
	}
	c := &call{r: req, body: body, params: params}
	who, err := s.authenticate(req, rt)
	if err != nil {
		return err
	}
	c.who = who
	if id, ok := params["zone_id"]; ok {
		z := s.zones[id]
		if z == nil || !s.canSee(who, z.name) {
			return notFound("/zones/" + id)
		}
		c.zone = z
		if !s.allowed(who, z.name, rt.perm) {
			return fail(http.StatusForbidden, CodeAuthentication, "Authentication error")
		}
	}
	if id, ok := params["account_id"]; ok {
		if id != s.accountID {
			return fail(http.StatusForbidden, CodeAuthentication, "Authentication error")
		}
		if rt.perm != "" && !s.allowed(who, "", rt.perm) {
			return fail(http.StatusForbidden, CodeAuthentication, "Authentication error")
		}
	}
	out, err := rt.handler(s, c)
	if err != nil {
		return err
	}
	writeOK(w, out.result, out.info)
	return nil
}

var bearerRE = regexp.MustCompile(`^[Bb]earer ([A-Za-z0-9_\-]+)$`)

func authKind(req *http.Request) string {
	switch {
	case req.Header.Get("Authorization") != "":
		return "token"
	case req.Header.Get("X-Auth-Key") != "":
		return "key"
	}
	return "none"
}

var keyRE = regexp.MustCompile(`^([0-9a-f]{37,45}|cfk_[A-Za-z0-9]{40,60})$`)

// authenticate checks the credentials. Cloudflare's answers differ by
// endpoint: token verification says 401/1000 for an unknown token, other
// calls 403/9109.
// With both a token and a key present (the sdk sends both when both are
// configured) the token decides.
func (s *Sim) authenticate(req *http.Request, rt *route) (principal, error) {
	verify := rt.pattern[len(rt.pattern)-1] == "verify"
	authz := req.Header.Get("Authorization")
	key, email := req.Header.Get("X-Auth-Key"), req.Header.Get("X-Auth-Email")
	switch {
	case authz != "":
		m := bearerRE.FindStringSubmatch(authz)
		if m == nil {
			return principal{}, &apiFailure{status: http.StatusBadRequest, errs: []apiError{{
				Code: CodeInvalidHeaders, Message: "Invalid request headers",
				ErrorChain: []apiError{{Code: CodeBadAuthorization, Message: "Invalid format for Authorization header"}},
			}}}
		}
		if subtle.ConstantTimeCompare([]byte(m[1]), []byte(s.token)) != 1 {
			if verify {
				return principal{}, fail(http.StatusUnauthorized, CodeInvalidToken, "Invalid API Token")
			}
			// An unknown (revoked, mistyped) token is 9109 elsewhere, as
			// seen in the wild ("Error determining zone_id: 9109 Invalid
			// access token"); 10000 is a valid token lacking a permission.
			return principal{}, fail(http.StatusForbidden, CodeInvalidAccessToken, "Invalid access token")
		}
		acct := strings.HasPrefix(s.token, "cfat_") || (s.opts.LegacyAccountToken && !strings.Contains(s.token, "_"))
		return principal{accountToken: acct}, nil
	case key != "" || email != "":
		if key == "" || email == "" {
			return principal{}, fail(http.StatusBadRequest, CodeMissingAuth, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
		}
		if !keyRE.MatchString(key) {
			return principal{}, &apiFailure{status: http.StatusBadRequest, errs: []apiError{{
				Code: CodeInvalidHeaders, Message: "Invalid request headers",
				ErrorChain: []apiError{{Code: CodeBadAuthKey, Message: "Invalid format for X-Auth-Key header"}},
			}}}
		}
		if s.opts.APIKey == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.APIKey)) != 1 ||
			!strings.EqualFold(email, s.opts.Email) {
			return principal{}, fail(http.StatusForbidden, CodeUnknownKey, "Unknown X-Auth-Key or X-Auth-Email")
		}
		if verify {
			// A global key is not a token: nothing to verify.
			return principal{}, fail(http.StatusUnauthorized, CodeInvalidToken, "Invalid API Token")
		}
		return principal{key: true}, nil
	}
	return principal{}, fail(http.StatusBadRequest, CodeMissingAuth, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
}

// implied lists the groups that satisfy a required group.
var implied = map[string][]string{
	PermSSLRead:            {PermSSLRead, PermSSLWrite},
	PermSSLWrite:           {PermSSLWrite},
	PermZoneSettingsRead:   {PermZoneSettingsRead, PermZoneSettingsWrite},
	PermZoneSettingsWrite:  {PermZoneSettingsWrite},
	PermNotificationsWrite: {PermNotificationsWrite, PermAccountSettings},
}

// allowed reports whether who holds perm on the zone named zoneName ("" for
// account groups, which count under any Scopes key).
func (s *Sim) allowed(who principal, zoneName, perm string) bool {
	if perm == "" || who.key || s.opts.Scopes == nil {
		return true
	}
	if perm == PermZoneRead { // any zone permission lets a token read the zone
		return len(s.opts.Scopes[zoneName]) > 0
	}
	var granted []string
	if zoneName == "" {
		for _, g := range s.opts.Scopes {
			granted = append(granted, g...)
		}
	} else {
		granted = s.opts.Scopes[zoneName]
	}
	for _, g := range granted {
		for _, ok := range implied[perm] {
			if strings.EqualFold(g, ok) {
				return true
			}
		}
	}
	return false
}

// canSee reports whether the zone exists for who: a token scoped to other
// zones gets 404 like an unknown ID, as Cloudflare hides foreign zones.
func (s *Sim) canSee(who principal, zoneName string) bool {
	return who.key || s.opts.Scopes == nil || len(s.opts.Scopes[zoneName]) > 0
}

// decode unmarshals a JSON body, mapping syntax errors to Cloudflare's
// malformed-JSON error.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fail(http.StatusBadRequest, CodeMalformedJSON, "Malformed JSON in request body")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fail(http.StatusBadRequest, CodeMalformedJSON, "Malformed JSON in request body")
	}
	return nil
}

// queryInt reads an integer query parameter with a default and bounds.
func queryInt(req *http.Request, name string, def, lo, hi int) (int, error) {
	v := req.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fail(http.StatusBadRequest, CodeInvalidRequest, "Invalid value for "+name+": want an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	return n, nil
}

// bufferWriter collects a response so a FaultResetAfter can drop it after
// the handler committed its effect.
type bufferWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

// record appends to the request log and the JSON-lines writer.
func (s *Sim) record(e Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, e)
	if s.opts.Log != nil {
		if b, err := json.Marshal(e); err == nil {
			_, _ = s.opts.Log.Write(append(b, '\n'))
		}
	}
}

// redacted replaces every secret the request log would otherwise hold.
const redacted = "[redacted]"

// redactEntry scrubs the logged path, query and body: private keys and
// tokens in any form a client may send them (JSON, a query string, a form
// body, a malformed body), and the simulator's own credentials wherever
// they appear.
func (s *Sim) redactEntry(e *Request, body []byte) {
	e.Path = s.redactCredentials(e.Path)
	e.Query = s.redactCredentials(redactText(e.Query))
	e.Body = s.redactCredentials(redactBody(body))
}

func (s *Sim) redactCredentials(v string) string {
	for _, c := range []string{s.token, s.opts.APIKey} {
		// A credential too short to be specific would blank unrelated text.
		if len(c) >= 8 {
			v = strings.ReplaceAll(v, c, redacted)
		}
	}
	return v
}

// isSecretName reports a field or parameter name whose value is a secret:
// private_key, token, api_key, password and the like, however spelled.
func isSecretName(name string) bool {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "", ".", "").Replace(name))
	switch n {
	case "key", "privatekey", "apikey", "xauthkey", "authorization", "passphrase":
		return true
	}
	return strings.Contains(n, "privatekey") || strings.Contains(n, "secret") ||
		strings.Contains(n, "password") || strings.HasSuffix(n, "token")
}

// redactBody redacts a JSON body field by field, and any other body as
// text.
func redactBody(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return redactText(string(body))
	}
	b, err := json.Marshal(redactValue(v))
	if err != nil || holdsKey(string(b)) {
		return redacted
	}
	return string(b)
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if isSecretName(k) {
				t[k] = redacted
			} else {
				t[k] = redactValue(x)
			}
		}
	case []any:
		for i := range t {
			t[i] = redactValue(t[i])
		}
	case string:
		return redactText(t)
	}
	return v
}

var (
	// A PEM private key, also with '+' or %20 for spaces, up to its END
	// line or, when cut off, the end of the text.
	pemKeyRE = regexp.MustCompile(`(?is)-----BEGIN[^-]*PRIVATE[^-]*KEY-----.*?(?:-----END[^-]*PRIVATE[^-]*KEY-----|\z)`)
	// name=value pairs of a query string or form body.
	formPairRE = regexp.MustCompile(`([^&;=?\s]+)=([^&;]*)`)
	// "name": "value" in JSON that did not parse (cut off or malformed);
	// the value runs to its closing quote or the end of the text.
	jsonPairRE = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"\s*:\s*"(?:[^"\\]|\\.)*(?:"|\z)`)
	// percent escapes and JSON \u escapes, decoded leniently.
	percentRE = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
	unicodeRE = regexp.MustCompile(`\\u00[0-9A-Fa-f]{2}`)
)

// redactText redacts secrets in text of unknown shape: a query string, a
// form body, broken JSON. What it cannot pinpoint but still holds a private
// key, in any encoding, is redacted whole.
func redactText(t string) string {
	if t == "" {
		return ""
	}
	t = formPairRE.ReplaceAllStringFunc(t, func(m string) string {
		k, _, _ := strings.Cut(m, "=")
		if isSecretName(lenientUnescape(k)) {
			return k + "=" + redacted
		}
		return m
	})
	t = jsonPairRE.ReplaceAllStringFunc(t, func(m string) string {
		k := jsonPairRE.FindStringSubmatch(m)[1]
		if isSecretName(k) {
			return `"` + k + `":"` + redacted + `"`
		}
		return m
	})
	t = pemKeyRE.ReplaceAllString(t, redacted)
	if holdsKey(t) {
		return redacted
	}
	return t
}

// holdsKey reports whether t still shows a private key once percent, '+'
// and \u escapes are undone, up to three layers deep.
func holdsKey(t string) bool {
	for range 4 {
		u := strings.ToUpper(t)
		if strings.Contains(u, "PRIVATE KEY") || strings.Contains(u, "PRIVATE+KEY") {
			return true
		}
		next := lenientUnescape(t)
		if next == t {
			return false
		}
		t = next
	}
	return true
}

// lenientUnescape decodes %XX, '+' and \u00XX escapes, leaving malformed
// ones as they are (url.QueryUnescape gives up on the whole string).
func lenientUnescape(t string) string {
	t = strings.ReplaceAll(t, "+", " ")
	t = percentRE.ReplaceAllStringFunc(t, func(m string) string {
		b, _ := strconv.ParseUint(m[1:], 16, 8)
		return string(rune(b))
	})
	return unicodeRE.ReplaceAllStringFunc(t, func(m string) string {
		b, _ := strconv.ParseUint(m[2:], 16, 8)
		return string(rune(b))
	})
}
