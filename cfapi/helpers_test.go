package cfapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/cfapi/contract"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

const zoneName = "example.com"

// sleeper records the waits cfapi asks for and returns at once, so retry
// and polling tests take no wall time.
type sleeper struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// contractReporter fails the test on any contract violation: a request
// cfapi sends or a response cfsim returns that the OpenAPI spec (with the
// exceptions documented in cfapi/contract) does not allow.
type contractReporter struct{ t testing.TB }

func (r contractReporter) Errorf(format string, args ...any) { r.t.Errorf(format, args...) }

// harness is a client wired to a fresh cfsim, with every request and
// response validated against the OpenAPI contract.
type harness struct {
	sim    *cfsim.Sim
	srv    *httptest.Server
	c      *cfapi.SDKClient
	cfg    cfapi.Config
	zoneID string
	log    *pkitest.LockedBuffer
	sleep  *sleeper
}

func newHarness(t testing.TB, opts cfsim.Options, mod func(*cfapi.Config)) *harness {
	t.Helper()
	if opts.Zones == nil {
		opts.Zones = []string{zoneName, "other.test"}
	}
	sim := cfsim.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	h := &harness{sim: sim, srv: srv, zoneID: sim.ZoneID(zoneName), log: &pkitest.LockedBuffer{}, sleep: &sleeper{}}
	h.cfg = cfapi.Config{
		Token:        sim.Token(),
		BaseURL:      srv.URL + "/client/v4/",
		HTTPClient:   &http.Client{Transport: contract.Transport(contractReporter{t: t}, srv.Client().Transport)},
		Timeout:      10 * time.Second,
		BackoffBase:  time.Millisecond,
		PollInterval: time.Millisecond,
		Logger:       slog.New(slog.NewJSONHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:        h.sleep.Sleep,
	}
	if mod != nil {
		mod(&h.cfg)
	}
	c, err := cfapi.New(h.cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	h.c = c
	return h
}

// requests returns the simulator's log entries matching method and a path
// suffix.
func (h *harness) requests(method, suffix string) []cfsim.Request {
	var out []cfsim.Request
	for _, r := range h.sim.Requests() {
		if r.Method == method && (suffix == "" || hasSuffix(r.Path, suffix)) {
			out = append(out, r)
		}
	}
	return out
}

// methods lists the HTTP methods of rs, in order.
func methods(rs []cfsim.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Method
	}
	return out
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// pkiLab issues test certificates: ECDSA P-256 keeps tests fast.
type pkiLab struct {
	t  testing.TB
	ca *pki.Pair
}

func newLab(t testing.TB) *pkiLab {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: zoneName, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	return &pkiLab{t: t, ca: ca}
}

// leaf returns a client certificate and its unencrypted key as PEM.
func (l *pkiLab) leaf(cn string) (certPEM, keyPEM []byte) {
	l.t.Helper()
	p := l.pair(cn)
	k, err := p.KeyPEM()
	if err != nil {
		l.t.Fatal(err)
	}
	return p.CertPEM(), k
}

func (l *pkiLab) pair(cn string) *pki.Pair {
	l.t.Helper()
	p, err := pki.IssueClient(l.ca, pki.ClientOptions{CommonName: cn, KeyType: pki.ECDSAP256})
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ptr[T any](v T) *T { return &v }
