package cfsim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Limits Cloudflare documents for per-hostname AOP (docs/cloudflare-api.md,
// "Per-hostname limits").
const (
	MaxHostnameCerts        = 10
	MaxHostnamesPerCert     = 100
	maxAssociationsPageSize = 1000
)

// Status values (docs/cloudflare-api.md, "Status enum").
const (
	StatusInitializing       = "initializing"
	StatusPendingDeployment  = "pending_deployment"
	StatusActive             = "active"
	StatusPendingDeletion    = "pending_deletion"
	StatusDeleted            = "deleted"
	StatusDeploymentTimedOut = "deployment_timed_out"
)

// lifeStatus maps a lifecycle to the status enum (s.mu held).
func (s *Sim) lifeStatus(l *lifecycle) string {
	if l.deleting {
		if l.delGets >= max(1, s.opts.DeployAfter) {
			return StatusDeleted
		}
		return StatusPendingDeletion
	}
	switch {
	case l.gets >= s.opts.DeployAfter && s.opts.DeployTimeout:
		return StatusDeploymentTimedOut
	case l.gets >= s.opts.DeployAfter:
		return StatusActive
	case l.gets == 0:
		return StatusInitializing
	}
	return StatusPendingDeployment
}

// observe counts a GET that returned the object: the simulator's clock for
// asynchronous deployment.
func (s *Sim) observe(l *lifecycle) {
	if l.deleting {
		l.delGets++
	} else {
		l.gets++
	}
}

func (s *Sim) certStatus(c *cert) string {
	st := s.lifeStatus(&c.life)
	if st == StatusActive && c.activated.IsZero() {
		c.activated = s.clock()
	}
	return st
}

func (s *Sim) assocStatus(a *assoc) string { return s.lifeStatus(&a.life) }

// certObject is the API form of a certificate; private_key is never part
// of it.
func (s *Sim) certObject(c *cert) map[string]any {
	o := map[string]any{
		"id":          c.id,
		"certificate": c.pem,
		"issuer":      c.leaf.Issuer.String(),
		"signature":   signatureName(c.leaf),
		"expires_on":  timestamp(c.leaf.NotAfter),
		"status":      s.certStatus(c),
		"uploaded_on": timestamp(c.uploaded),
	}
	if c.hostname {
		o["serial_number"] = c.leaf.SerialNumber.String()
		o["updated_at"] = timestamp(c.updated)
	}
	return o
}

// signatureName spells the algorithm as Cloudflare does ("SHA256WithRSA",
// "ECDSAWithSHA256").
func signatureName(c *x509.Certificate) string {
	return strings.ReplaceAll(c.SignatureAlgorithm.String(), "-", "With")
}

type uploadBody struct {
	Certificate *string `json:"certificate"`
	PrivateKey  *string `json:"private_key"`
}

// parseUpload applies Cloudflare's upload rules (docs/cloudflare-api.md,
// "Upload rules").
func parseUpload(body []byte) (string, *x509.Certificate, crypto.Signer, error) {
	var b uploadBody
	if err := decode(body, &b); err != nil {
		return "", nil, nil, err
	}
	if b.Certificate == nil || strings.TrimSpace(*b.Certificate) == "" {
		return "", nil, nil, fail(http.StatusBadRequest, CodeInvalidRequest, "certificate is required")
	}
	if b.PrivateKey == nil || strings.TrimSpace(*b.PrivateKey) == "" {
		return "", nil, nil, fail(http.StatusBadRequest, CodeInvalidRequest, "private_key is required")
	}
	leaf, err := parseLeaf([]byte(*b.Certificate))
	if err != nil {
		return "", nil, nil, err
	}
	key, err := parseKey([]byte(*b.PrivateKey))
	if err != nil {
		return "", nil, nil, err
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return "", nil, nil, fail(http.StatusBadRequest, CodeKeyMismatch, "The private key does not match the certificate")
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
	return certPEM, leaf, key, nil
}

func parseLeaf(data []byte) (*x509.Certificate, error) {
	var sawCert bool
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fail(http.StatusBadRequest, CodeInvalidCert, "The certificate could not be parsed: "+err.Error())
		}
		sawCert = true
		if !c.IsCA {
			return c, nil
		}
	}
	if !sawCert {
		return nil, fail(http.StatusBadRequest, CodeInvalidCert, "The certificate is not a PEM-encoded X.509 certificate")
	}
	return nil, fail(http.StatusBadRequest, CodeMissingLeaf, "missing leaf certificate")
}

func parseKey(data []byte) (crypto.Signer, error) {
	if bytes.Contains(data, []byte("ENCRYPTED")) {
		return nil, fail(http.StatusBadRequest, CodeEncryptedKey, "You cannot upload a custom certificate with a password-protected key file")
	}
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return nil, fail(http.StatusBadRequest, CodeInvalidKey, "The private key is not a PEM-encoded private key")
		}
		var k any
		var err error
		switch blk.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			return nil, fail(http.StatusBadRequest, CodeInvalidKey, "Unsupported private key type "+strconv.Quote(blk.Type))
		}
		if err != nil {
			return nil, fail(http.StatusBadRequest, CodeInvalidKey, "The private key could not be parsed: "+err.Error())
		}
		return checkKey(k)
	}
}

// checkKey applies the edge custom-certificate key rules the AOP docs point
// to: RSA of at least 2048 bits, ECDSA P-256 or P-384; Ed25519 is accepted
// because nothing says otherwise.
func checkKey(k any) (crypto.Signer, error) {
	switch key := k.(type) {
	case *rsa.PrivateKey:
		if key.N.BitLen() < 2048 {
			return nil, fail(http.StatusBadRequest, CodeInvalidKey, "RSA keys must be at least 2048 bits")
		}
		return key, nil
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P256() && key.Curve != elliptic.P384() {
			return nil, fail(http.StatusBadRequest, CodeInvalidKey, "ECDSA keys must use P-256 or P-384")
		}
		return key, nil
	case ed25519.PrivateKey:
		return key, nil
	}
	return nil, fail(http.StatusBadRequest, CodeInvalidKey, "Unsupported private key algorithm")
}

// upload stores a certificate of the given kind after the upload rules.
func (s *Sim) upload(c *call, hostname bool) (reply, error) {
	certPEM, leaf, key, err := parseUpload(c.body)
	if err != nil {
		return reply{}, err
	}
	z := c.zone
	live := 0
	for _, old := range z.certs {
		if old.hostname != hostname || old.life.deleting {
			continue
		}
		live++
		if bytes.Equal(old.leaf.Raw, leaf.Raw) {
			return reply{}, fail(http.StatusBadRequest, CodeDuplicate, "This certificate already exists for this zone.")
		}
	}
	if hostname && live >= MaxHostnameCerts {
		return reply{}, fail(http.StatusBadRequest, CodeHostnameCertLimit,
			"You have reached the limit of "+strconv.Itoa(MaxHostnameCerts)+" hostname client certificates for this zone; delete one first")
	}
	now := s.clock()
	nc := &cert{id: s.uuid(), hostname: hostname, pem: certPEM, leaf: leaf, key: key, uploaded: now, updated: now}
	z.certs = append(z.certs, nc)
	z.uploads++
	return reply{result: s.certObject(nc)}, nil
}

func (s *Sim) findCert(c *call, hostname bool) (*cert, error) {
	id := c.params["certificate_id"]
	for _, x := range c.zone.certs {
		if x.id == id && x.hostname == hostname {
			return x, nil
		}
	}
	return nil, notFound("/zones/" + c.zone.id + "/origin_tls_client_auth/" + id)
}

func (s *Sim) listCerts(c *call, hostname bool) (reply, error) {
	out := []map[string]any{}
	for _, x := range c.zone.certs {
		if x.hostname == hostname {
			s.observe(&x.life)
			out = append(out, s.certObject(x))
		}
	}
	n := len(out)
	return reply{result: out, info: &resultInfo{Page: 1, PerPage: max(n, 20), Count: n, TotalCount: n, TotalPages: 1}}, nil
}

func (s *Sim) getCert(c *call, hostname bool) (reply, error) {
	x, err := s.findCert(c, hostname)
	if err != nil {
		return reply{}, err
	}
	s.observe(&x.life)
	return reply{result: s.certObject(x)}, nil
}

func (s *Sim) uploadZoneCert(c *call) (reply, error)     { return s.upload(c, false) }
func (s *Sim) uploadHostnameCert(c *call) (reply, error) { return s.upload(c, true) }
func (s *Sim) listZoneCerts(c *call) (reply, error)      { return s.listCerts(c, false) }
func (s *Sim) listHostnameCerts(c *call) (reply, error)  { return s.listCerts(c, true) }
func (s *Sim) getZoneCert(c *call) (reply, error)        { return s.getCert(c, false) }
func (s *Sim) getHostnameCert(c *call) (reply, error)    { return s.getCert(c, true) }

func (s *Sim) deleteZoneCert(c *call) (reply, error) {
	x, err := s.findCert(c, false)
	if err != nil {
		return reply{}, err
	}
	return s.markDeleted(x), nil
}

func (s *Sim) deleteHostnameCert(c *call) (reply, error) {
	x, err := s.findCert(c, true)
	if err != nil {
		return reply{}, err
	}
	for _, a := range sortedAssocs(c.zone) {
		if a.certID == x.id && a.enabled != nil {
			return reply{}, fail(http.StatusBadRequest, CodeCertAssociated,
				"The certificate is still associated with "+a.hostname+": void the association with enabled null before deleting it")
		}
	}
	return s.markDeleted(x), nil
}

func (s *Sim) markDeleted(x *cert) reply {
	if !x.life.deleting {
		x.life.deleting = true
		x.updated = s.clock()
	}
	return reply{result: s.certObject(x)}
}

func (s *Sim) getZoneAOP(c *call) (reply, error) {
	return reply{result: map[string]any{"enabled": c.zone.aopEnabled}}, nil
}

func (s *Sim) putZoneAOP(c *call) (reply, error) {
	var b struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decode(c.body, &b); err != nil {
		return reply{}, err
	}
	if b.Enabled == nil {
		return reply{}, fail(http.StatusBadRequest, CodeInvalidRequest, "enabled is required: true or false")
	}
	c.zone.aopEnabled = *b.Enabled
	return reply{result: map[string]any{"enabled": c.zone.aopEnabled}}, nil
}

// assocObject is the API form of an association (docs/cloudflare-api.md,
// "Associations").
func (s *Sim) assocObject(z *zone, a *assoc) map[string]any {
	o := map[string]any{
		"hostname":   a.hostname,
		"cert_id":    a.certID,
		"enabled":    a.enabled,
		"status":     s.assocStatus(a),
		"created_at": timestamp(a.created),
		"updated_at": timestamp(a.updated),
	}
	// A voided association reads back as enabled:false, as Cloudflare's
	// docs warn (docs/cloudflare-api.md, "Associations"); only the PUT answer
	// shows null.
	if a.enabled == nil && a.life.delGets > 0 {
		o["enabled"] = false
	}
	for _, x := range z.certs {
		if x.id == a.certID {
			o["cert_status"] = s.certStatus(x)
			o["issuer"] = x.leaf.Issuer.String()
			o["signature"] = signatureName(x.leaf)
			o["serial_number"] = x.leaf.SerialNumber.String()
			o["certificate"] = x.pem
			o["cert_uploaded_on"] = timestamp(x.uploaded)
			o["cert_updated_at"] = timestamp(x.updated)
			o["expires_on"] = timestamp(x.leaf.NotAfter)
		}
	}
	return o
}

type assocEntry struct {
	Hostname *string         `json:"hostname"`
	CertID   *string         `json:"cert_id"`
	Enabled  json.RawMessage `json:"enabled"`
}

// putAssociations validates every entry before applying any, so a
// rejected request changes nothing.
func (s *Sim) putAssociations(c *call) (reply, error) {
	var b struct {
		Config []assocEntry `json:"config"`
	}
	if err := decode(c.body, &b); err != nil {
		return reply{}, err
	}
	if len(b.Config) == 0 {
		return reply{}, fail(http.StatusBadRequest, CodeInvalidRequest, "config is required: a list of {hostname, cert_id, enabled}")
	}
	z := c.zone
	type change struct {
		host, certID string
		enabled      *bool
	}
	var changes []change
	perCert := map[string]int{}
	for _, a := range z.assocs {
		if a.enabled != nil {
			perCert[a.certID]++
		}
	}
	for _, e := range b.Config {
		if e.Hostname == nil || *e.Hostname == "" {
			return reply{}, fail(http.StatusBadRequest, CodeInvalidRequest, "missing hostname")
		}
		host := strings.ToLower(strings.TrimSuffix(*e.Hostname, "."))
		if len(host) > 255 || (host != z.name && !strings.HasSuffix(host, "."+z.name)) {
			return reply{}, fail(http.StatusBadRequest, CodeHostnameNotInZone, "hostname "+host+" is not part of zone "+z.name)
		}
		if e.CertID == nil || *e.CertID == "" {
			return reply{}, fail(http.StatusBadRequest, CodeInvalidRequest, "cert_id is required for "+host)
		}
		var en *bool
		switch strings.TrimSpace(string(e.Enabled)) {
		case "true":
			t := true
			en = &t
		case "false":
			f := false
			en = &f
		case "null":
		default:
			return reply{}, fail(http.StatusBadRequest, CodeInvalidRequest, "enabled must be true, false or null for "+host)
		}
		var hc *cert
		for _, x := range z.certs {
			if x.id == *e.CertID {
				hc = x
			}
		}
		if hc == nil || !hc.hostname || hc.life.deleting {
			return reply{}, fail(http.StatusBadRequest, CodeNotHostnameCert,
				"cert_id "+*e.CertID+" is not a hostname client certificate of this zone; upload it with /origin_tls_client_auth/hostnames/certificates")
		}
		if old := z.assocs[host]; old != nil && old.enabled != nil {
			perCert[old.certID]--
		}
		if en != nil {
			perCert[hc.id]++
			if perCert[hc.id] > MaxHostnamesPerCert {
				return reply{}, fail(http.StatusBadRequest, CodeAssociationLimit,
					"certificate "+hc.id+" would serve more than "+strconv.Itoa(MaxHostnamesPerCert)+" hostnames")
			}
		}
		changes = append(changes, change{host, hc.id, en})
	}
	now := s.clock()
	out := make([]map[string]any, 0, len(changes))
	for _, ch := range changes {
		a := z.assocs[ch.host]
		if a == nil {
			a = &assoc{hostname: ch.host, created: now}
			z.assocs[ch.host] = a
		}
		redeploy := a.certID != ch.certID || a.enabled == nil
		served := ""
		if a.enabled != nil && *a.enabled && s.lifeStatus(&a.life) == StatusActive {
			served = a.certID
		}
		a.certID, a.enabled, a.updated = ch.certID, ch.enabled, now
		switch {
		case ch.enabled == nil:
			a.life, a.prev = lifecycle{gets: a.life.gets, deleting: true}, ""
		case redeploy:
			a.life, a.prev = lifecycle{}, served
		}
		out = append(out, s.assocObject(z, a))
	}
	return reply{result: out}, nil
}

func (s *Sim) getAssociation(c *call) (reply, error) {
	host := strings.ToLower(c.params["hostname"])
	a := c.zone.assocs[host]
	if a == nil {
		return reply{}, notFound("/zones/" + c.zone.id + "/origin_tls_client_auth/hostnames/" + host)
	}
	s.observe(&a.life)
	return reply{result: s.assocObject(c.zone, a)}, nil
}

func sortedAssocs(z *zone) []*assoc {
	out := make([]*assoc, 0, len(z.assocs))
	for _, a := range z.assocs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *assoc) int { return strings.Compare(a.hostname, b.hostname) })
	return out
}

// listAssociations is the hidden endpoint of docs/cloudflare-api.md,
// "Hidden list of associations": page,
// per_page (default 50, max 1000) and a comma-separated status filter
// (default active). Like a GET of each, listing an association counts as
// observing it, so deployments progress under list polling too.
func (s *Sim) listAssociations(c *call) (reply, error) {
	if s.opts.HideAssociationList {
		return reply{}, fail(http.StatusNotFound, CodeNoRoute, "No route for that URI")
	}
	pg, err := queryInt(c.r, "page", 1, 1, 1<<30)
	if err != nil {
		return reply{}, err
	}
	per, err := queryInt(c.r, "per_page", 50, 1, maxAssociationsPageSize)
	if err != nil {
		return reply{}, err
	}
	want := map[string]bool{}
	filter := c.r.URL.Query().Get("status")
	if filter == "" {
		filter = StatusActive
	}
	for _, st := range strings.Split(filter, ",") {
		want[strings.TrimSpace(st)] = true
	}
	var matched []*assoc
	for _, a := range sortedAssocs(c.zone) {
		if want["all"] || want[s.assocStatus(a)] {
			matched = append(matched, a)
		}
	}
	onPage, info := page(matched, pg, per)
	out := make([]map[string]any, 0, len(onPage))
	for _, a := range onPage {
		s.observe(&a.life)
		out = append(out, s.assocObject(c.zone, a))
	}
	return reply{result: out, info: info}, nil
}

// zoneClientCert picks the certificate the edge presents for host by AOP
// precedence (s.mu held): per-hostname enabled with an active certificate
// (while a move to another certificate deploys, the one it served before);
// per-hostname enabled:false means none; zone-level enabled with the most
// recently activated zone certificate; global tls_client_auth=on; none.
func (s *Sim) zoneClientCert(z *zone, host string) (c *cert, global bool, level string) {
	if a := z.assocs[strings.ToLower(host)]; a != nil && a.enabled != nil {
		if !*a.enabled {
			return nil, false, "hostname-disabled"
		}
		want := a.certID
		if s.lifeStatus(&a.life) != StatusActive {
			want = a.prev // still deploying: the previous certificate serves
		}
		for _, x := range z.certs {
			if want != "" && x.id == want && s.certStatus(x) == StatusActive {
				return x, false, "hostname"
			}
		}
	}
	if z.aopEnabled {
		var best *cert
		for _, x := range z.certs {
			if !x.hostname && s.certStatus(x) == StatusActive && (best == nil || !x.activated.Before(best.activated)) {
				best = x
			}
		}
		if best != nil {
			return best, false, "zone"
		}
	}
	if z.tlsClientAuth.value == "on" {
		return nil, true, "global"
	}
	return nil, false, "none"
}
