package cfsim

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/pki"
)

// Permission groups, as Cloudflare names them in API token policies
// (docs/cloudflare-api.md, "Permissions"). A Write group implies its Read
// group.
const (
	PermSSLWrite           = "SSL and Certificates Write"
	PermSSLRead            = "SSL and Certificates Read"
	PermZoneSettingsWrite  = "Zone Settings Write"
	PermZoneSettingsRead   = "Zone Settings Read"
	PermZoneRead           = "Zone Read"
	PermNotificationsWrite = "Notifications Write"
	PermAccountSettings    = "Account Settings Write"
)

// AccountScope is the conventional Options.Scopes key for account-level
// permission groups (Notifications Write); they are honoured under any key.
const AccountScope = "account"

// Options configures a simulator.
type Options struct {
	// Zones are the zone names the account holds, e.g. "example.com".
	// Zone IDs are 32 hex characters derived from the name and Seed.
	Zones []string
	// Token is the API token accepted as "Authorization: Bearer". Empty
	// means a random cfut_ token (read it with Sim.Token). A cfat_ prefix
	// makes it an account token (docs/cloudflare-api.md, "Token verification").
	Token string
	// LegacyAccountToken makes an unprefixed Token behave as an account
	// token: /user/tokens/verify rejects it with 401/1000, as Cloudflare
	// does for pre-2026 account tokens.
	LegacyAccountToken bool
	// APIKey and Email enable legacy X-Auth-Key + X-Auth-Email auth.
	APIKey, Email string
	// SSLMode is every zone's initial "ssl" setting; default "full".
	SSLMode string
	// TLSClientAuth is every zone's initial "tls_client_auth"; default "off".
	TLSClientAuth string
	// DeployAfter is how many GETs observe a certificate or association
	// before it turns active (0: active at once). Until then it is
	// initializing (no GET yet), then pending_deployment. Deletions take
	// max(1, DeployAfter) GETs from pending_deletion to deleted.
	DeployAfter int
	// DeployTimeout makes deployments end in deployment_timed_out instead
	// of active.
	DeployTimeout bool
	// HideAssociationList answers the hidden list-associations endpoint
	// (GET …/origin_tls_client_auth/hostnames) with 404, as for an account
	// where Cloudflare does not serve it, so clients must read hostnames
	// one by one.
	HideAssociationList bool
	// Scopes grants permission groups per zone name; nil grants every group
	// on every zone. A zone missing from a non-nil map is invisible.
	Scopes map[string][]string
	// Faults injects rate limiting, server errors, resets and latency.
	Faults Faults
	// Seed makes IDs and fault choices reproducible.
	Seed int64
	// Log, if set, receives the request log as JSON lines (bodies with
	// private keys redacted; no credentials).
	Log io.Writer
	// Clock replaces time.Now.
	Clock func() time.Time
}

// FaultKind names an injected failure.
type FaultKind string

const (
	// Fault429 answers 429 with code 971 and Retry-After; no side effect.
	Fault429 FaultKind = "429"
	// Fault5xx answers 500, 502 (an HTML page, like Cloudflare's edge) or
	// 503; no side effect.
	Fault5xx FaultKind = "5xx"
	// FaultReset closes the connection without a response; no side effect.
	FaultReset FaultKind = "reset"
	// FaultResetAfter applies the request, then closes the connection
	// without a response: the client must discover the effect (for an
	// upload, by listing) instead of repeating it.
	FaultResetAfter FaultKind = "reset_after"
	// FaultLatency delays the response by Faults.Latency (or until the
	// client gives up), then handles the request normally.
	FaultLatency FaultKind = "latency"
)

// Faults configures fault injection. Choices depend only on Seed and the
// request's 0-based index, so the same seed faults the same requests.
type Faults struct {
	// Rate is the fraction of requests (0..1) that get a fault from Kinds.
	Rate float64
	// Kinds to choose from; default 429 and 5xx.
	Kinds []FaultKind
	// RetryAfter is the Retry-After value in seconds for 429; default 1.
	RetryAfter int
	// Latency for FaultLatency; default 2s.
	Latency time.Duration
	// Sequence forces the fault of request #i to Sequence[i] when that
	// element is non-empty, before Rate is consulted.
	Sequence []FaultKind
	// Paths, if set, limits injection to requests whose path (below
	// /client/v4) contains one of these strings; other requests still
	// consume an index.
	Paths []string
}

// Request is one entry of the request log.
type Request struct {
	Index   int       `json:"index"`
	Time    time.Time `json:"time"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`            // below /client/v4, e.g. /zones/…/origin_tls_client_auth
	Query   string    `json:"query,omitempty"` // redacted like Body
	Body    string    `json:"body,omitempty"`  // private keys, tokens and passwords replaced by "[redacted]"
	Auth    string    `json:"auth"`            // "token", "key" or "none": never the credential
	Status  int       `json:"status"`          // 0 for a dropped connection
	Faulted bool      `json:"faulted"`
	Fault   FaultKind `json:"fault,omitempty"`
}

// Certificate describes an uploaded AOP certificate (for tests and the edge).
type Certificate struct {
	ID       string
	Zone     string
	Hostname bool // uploaded with the per-hostname endpoint
	Status   string
	Serial   string // decimal, as serial_number in the API
	Leaf     *x509.Certificate
	Uploaded time.Time
}

// Association is a per-hostname association (for tests and the edge).
type Association struct {
	Hostname string
	CertID   string
	Enabled  *bool // nil: voided
	Status   string
}

// Sim is an in-memory Cloudflare API for the AOP calls, plus an edge that
// proxies to an origin as Cloudflare would. It is safe for concurrent use.
type Sim struct {
	opts      Options
	token     string
	accountID string
	clock     func() time.Time
	globalCA  *pki.Pair

	globalClient *tls.Certificate // issued on first use under s.mu

	mu       sync.Mutex
	rng      *mrand.Rand
	zones    map[string]*zone // by ID
	byName   map[string]*zone
	policies []*policy
	requests []Request
	next     int // index of the next request
}

type zone struct {
	id, name      string
	created       time.Time
	ssl           setting
	tlsClientAuth setting
	aopEnabled    bool
	certs         []*cert // upload order
	assocs        map[string]*assoc
	uploads       int
}

type setting struct {
	value    string
	modified *time.Time
}

type cert struct {
	id       string
	hostname bool
	pem      string
	leaf     *x509.Certificate
	key      crypto.Signer
	uploaded time.Time
	updated  time.Time
	life     lifecycle
	// activated is when it was first seen active: the edge uses the most
	// recently deployed zone certificate.
	activated time.Time
}

type assoc struct {
	hostname string
	certID   string
	enabled  *bool
	created  time.Time
	updated  time.Time
	life     lifecycle
	// prev is the certificate the association served before it was moved
	// to certID: deployment is asynchronous, so the edge keeps presenting
	// it until the move is active (docs/cloudflare-api.md, "AOP levels and
	// precedence").
	prev string
}

// lifecycle counts GETs that observed an object to move it through the
// status enum (docs/cloudflare-api.md, "Status enum").
type lifecycle struct {
	gets     int
	deleting bool
	delGets  int
}

// New returns a simulator. It panics only if the system's random source
// fails, as crypto/rand does.
func New(opts Options) *Sim {
	if opts.SSLMode == "" {
		opts.SSLMode = cfapi.SSLFull
	}
	if opts.TLSClientAuth == "" {
		opts.TLSClientAuth = "off"
	}
	if len(opts.Faults.Kinds) == 0 {
		opts.Faults.Kinds = []FaultKind{Fault429, Fault5xx}
	}
	if opts.Faults.RetryAfter <= 0 {
		opts.Faults.RetryAfter = 1
	}
	if opts.Faults.Latency <= 0 {
		opts.Faults.Latency = 2 * time.Second
	}
	s := &Sim{opts: opts, clock: opts.Clock, zones: map[string]*zone{}, byName: map[string]*zone{}}
	if s.clock == nil {
		s.clock = time.Now
	}
	seed := uint64(opts.Seed)
	s.rng = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.token = opts.Token
	if s.token == "" {
		s.token = randomToken("cfut_")
	}
	s.accountID = derivedID("account", opts.Seed)
	now := s.clock()
	for _, name := range opts.Zones {
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		if _, dup := s.byName[name]; dup || name == "" {
			continue
		}
		z := &zone{
			id: derivedID("zone "+name, opts.Seed), name: name, created: now,
			ssl:           setting{value: opts.SSLMode},
			tlsClientAuth: setting{value: opts.TLSClientAuth},
			assocs:        map[string]*assoc{},
		}
		s.zones[z.id], s.byName[name] = z, z
	}
	ca, err := pki.NewCA(pki.CAOptions{CommonName: GlobalCACommonName, Organization: "cfsim", KeyType: pki.ECDSAP256})
	if err != nil {
		panic(fmt.Sprintf("cfsim: generate the global origin-pull CA: %v", err))
	}
	s.globalCA = ca
	return s
}

// GlobalCACommonName is the subject CN of the simulator's stand-in for
// Cloudflare's global AOP CA.
const GlobalCACommonName = "cfsim origin-pull CA (stand-in for origin-pull.cloudflare.net)"

// derivedID is a 32-hex ID that depends only on what and seed, so test
// output is stable across runs.
func derivedID(what string, seed int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h := sha256.Sum256(append([]byte("cfsim "+what+" "), b[:]...))
	return hex.EncodeToString(h[:16])
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomToken follows the 2026 token format (prefix + 40 characters +
// checksum); the 8-hex CRC-32 checksum is cfsim-invented.
func randomToken(prefix string) string {
	var b [40]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("cfsim: random token: %v", err))
	}
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return fmt.Sprintf("%s%s%08x", prefix, b[:], crc32.ChecksumIEEE(b[:]))
}

// uuid returns a version-4 UUID from the seeded generator (s.mu held).
func (s *Sim) uuid() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.rng.Uint64())
	binary.BigEndian.PutUint64(b[8:], s.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Token is the API token the simulator accepts. It is the simulator's own
// throwaway credential, not a Cloudflare secret.
func (s *Sim) Token() string { return s.token }

// AccountID is the account that holds every zone.
func (s *Sim) AccountID() string { return s.accountID }

// ZoneID returns the ID of the zone named name, or "" if there is none.
func (s *Sim) ZoneID(name string) string {
	return readZone(s, name, func(z *zone) string { return z.id })
}

// GlobalCAPEM is the CA whose certificate the edge presents under global
// AOP (tls_client_auth=on): the simulator's stand-in for Cloudflare's.
func (s *Sim) GlobalCAPEM() []byte { return s.globalCA.CertPEM() }

// Requests returns a copy of the request log.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// readZone runs f on the zone named name under the lock; a missing zone
// gives T's zero value.
func readZone[T any](s *Sim, name string, f func(*zone) T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero T
	if z := s.byName[strings.ToLower(name)]; z != nil {
		return f(z)
	}
	return zero
}

// Uploads counts the successful certificate uploads (zone-level and
// per-hostname) to the zone named zoneName, including uploads whose
// response was dropped by FaultResetAfter.
func (s *Sim) Uploads(zoneName string) int {
	return readZone(s, zoneName, func(z *zone) int { return z.uploads })
}

// ZoneAOPEnabled reports the zone-level enablement setting.
func (s *Sim) ZoneAOPEnabled(zoneName string) bool {
	return readZone(s, zoneName, func(z *zone) bool { return z.aopEnabled })
}

// TLSClientAuth reports the zone's tls_client_auth (global AOP) setting.
func (s *Sim) TLSClientAuth(zoneName string) string {
	return readZone(s, zoneName, func(z *zone) string { return z.tlsClientAuth.value })
}

// SSLMode reports the zone's ssl setting.
func (s *Sim) SSLMode(zoneName string) string {
	return readZone(s, zoneName, func(z *zone) string { return z.ssl.value })
}

// Certificates lists the zone's certificates (both kinds) in upload order,
// with their current status; reading them does not advance the lifecycle.
func (s *Sim) Certificates(zoneName string) []Certificate {
	return readZone(s, zoneName, s.certificates)
}

func (s *Sim) certificates(z *zone) []Certificate {
	out := make([]Certificate, 0, len(z.certs))
	for _, c := range z.certs {
		out = append(out, Certificate{ID: c.id, Zone: z.name, Hostname: c.hostname, Status: s.certStatus(c),
			Serial: c.leaf.SerialNumber.String(), Leaf: c.leaf, Uploaded: c.uploaded})
	}
	return out
}

// Associations lists the zone's per-hostname associations, sorted by
// hostname, including voided ones (Enabled nil).
func (s *Sim) Associations(zoneName string) []Association {
	return readZone(s, zoneName, s.associations)
}

func (s *Sim) associations(z *zone) []Association {
	out := make([]Association, 0, len(z.assocs))
	for _, a := range z.assocs {
		out = append(out, Association{Hostname: a.hostname, CertID: a.certID, Enabled: a.enabled, Status: s.assocStatus(a)})
	}
	slices.SortFunc(out, func(a, b Association) int { return strings.Compare(a.Hostname, b.Hostname) })
	return out
}

// Handler serves the API under /client/v4/; with httptest.NewServer the
// base URL is srv.URL + "/client/v4/".
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serve) }
