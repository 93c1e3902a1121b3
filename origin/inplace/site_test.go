package inplace_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/evidence"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// answer is what a client sees for one request: the parts of a response a
// site's users rely on.
type answer struct {
	Status   int
	Body     string
	Location string
	Type     string
	Backend  string // X-Backend-Saw: what the proxied backend received
}

func (a answer) String() string {
	b := a.Body
	if len(b) > 60 {
		b = b[:60] + "…"
	}
	return fmt.Sprintf("%d type=%q location=%q backend=%q body=%q", a.Status, a.Type, a.Location, a.Backend, b)
}

// request is one request of the recorded set.
type request struct {
	Method, Path, Body string
}

// siteRequests cover the locations of the realistic site: static files,
// the index, a custom 404, an internal-only location, a proxied GET and
// POST (method, query and body must reach the backend unchanged), a
// location redirect and a server-level rewrite.
var siteRequests = []request{
	{"GET", "/", ""},
	{"GET", "/style.css", ""},
	{"GET", "/missing.html", ""},
	{"GET", "/private/secret.txt", ""},
	{"GET", "/page.BAK", ""},
	{"GET", "/api/items?q=a%20b&x=1", ""},
	{"GET", "/api/odd%20path?x=%41", ""},
	{"POST", "/api/items", "name=widget&qty=2"},
	{"GET", "/go", ""},
	{"GET", "/old/page", ""},
	{"HEAD", "/", ""},
}

// backend is the small proxied application: it echoes what it received.
func backend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend-Saw", fmt.Sprintf("%s %s body=%s", r.Method, r.URL.RequestURI(), body))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"app\":true,\"method\":%q}\n", r.Method)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// client presents cert (nil: none) and trusts the lab's server CA, a new
// connection per request.
func client(lab *pkitest.Lab, host string, cert *pki.Pair) *http.Client {
	return servertest.Client(lab, host, cert)
}

func ask(c *http.Client, addr, host string, r request) (answer, error) {
	req, err := http.NewRequest(r.Method, "https://"+addr+r.Path, strings.NewReader(r.Body))
	if err != nil {
		return answer{}, err
	}
	req.Host = host
	if r.Body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{Status: resp.StatusCode, Body: string(body), Location: resp.Header.Get("Location"), Type: resp.Header.Get("Content-Type"), Backend: resp.Header.Get("X-Backend-Saw")}, nil
}

// record asks every request of the set on every address.
func record(c *http.Client, addrs []string, host string) (map[string]answer, error) {
	out := map[string]answer{}
	for _, a := range addrs {
		for _, r := range siteRequests {
			ans, err := ask(c, a, host, r)
			if err != nil {
				return nil, fmt.Errorf("%s %s on %s: %w", r.Method, r.Path, a, err)
			}
			out[a+" "+r.Method+" "+r.Path] = ans
		}
	}
	return out, nil
}

// same reports the first difference between two recordings.
func same(want, got map[string]answer) error {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want[k] != got[k] {
			return fmt.Errorf("%s:\n  before: %s\n  now:    %s", k, want[k], got[k])
		}
	}
	return nil
}

// writeFiles writes name -> content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	servertest.WriteFiles(t, dir, files)
}

// loopback6 reports whether ::1 can be listened on here.
func loopback6() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// expectSame polls until every request of the set, on every address,
// answers as in before for a client presenting cert (reloads land
// asynchronously: docs/origin-servers.md, "Reloads are asynchronous").
func expectSame(t *testing.T, lab *pkitest.Lab, addrs []string, cert *pki.Pair, before map[string]answer, what string) {
	t.Helper()
	servertest.Eventually(t, what, func() error {
		got, err := record(client(lab, shopHost, cert), addrs, shopHost)
		if err != nil {
			return err
		}
		return same(before, got)
	})
}

// expectRefused polls until a client presenting cert is refused on every
// address: refused judges one answer (or error).
func expectRefused(t *testing.T, lab *pkitest.Lab, addrs []string, cert *pki.Pair, what string, refused func(answer, error) bool) {
	t.Helper()
	for _, a := range addrs {
		servertest.Eventually(t, what+" on "+a, func() error {
			got, err := ask(client(lab, shopHost, cert), a, shopHost, siteRequests[0])
			if !refused(got, err) {
				return fmt.Errorf("got %v %v", got, err)
			}
			return nil
		})
	}
}

// tlsRefused: Apache and HAProxy refuse at the TLS layer.
func tlsRefused(_ answer, err error) bool { return err != nil }

// snapshot reads files to compare after a rollback.
func snapshot(t *testing.T, paths ...string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = b
	}
	return out
}

// rollbackAll undoes n applies, each checked against the listener's state
// before that apply, and checks the files are back byte for byte.
func rollbackAll(t *testing.T, o apply.Options, n int, files map[string][]byte) {
	t.Helper()
	o.Targets = nil
	for range n {
		if _, err := apply.Rollback(context.Background(), o); err != nil {
			t.Fatalf("rollback: %v", err)
		}
	}
	for p, want := range files {
		if got, _ := os.ReadFile(p); string(got) != string(want) {
			t.Errorf("rollback left %s changed:\n%s", p, apply.UnifiedDiff("before", "after", want, got))
		}
	}
}

// enable links sites-available/name into sites-enabled, as a2ensite and
// Debian's nginx layout do.
func enable(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "sites-enabled"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "sites-available", name), filepath.Join(dir, "sites-enabled", name)); err != nil {
		t.Fatal(err)
	}
}

// planFor is what origin apply --target existing does: discover the
// shop's blocks through the server and plan the phase.
func planFor(t *testing.T, d *server.Driver, in inplace.Input) *inplace.Plan {
	t.Helper()
	p, hosts, err := inplace.PlanFor(context.Background(), server.NewExecRunner(nil), d, []string{shopHost}, in)
	if err != nil {
		t.Fatalf("plan: %v (found %+v)", err, hosts)
	}
	if !hosts[0].OK() {
		t.Fatalf("discovery: %+v", hosts[0])
	}
	return p
}

func changes(p *inplace.Plan) []apply.Change { return p.Changes() }

// expectEvidence polls until origin/evidence, reading the evidence log
// (HAProxy's also holds its own startup lines, which it skips),
// counts the host's requests with a valid, no and a failing certificate,
// the failing reasons including every one in reasons.
func expectEvidence(t *testing.T, log, host string, reasons ...string) {
	t.Helper()
	servertest.Eventually(t, "origin/evidence reads the soft phase's log", func() error {
		rep, err := evidence.ReadFiles(context.Background(), []string{log}, evidence.Options{})
		if err != nil {
			return err
		}
		h := rep.Host(host)
		if h.Success == 0 || h.None == 0 || h.Failed == 0 {
			return fmt.Errorf("%s: %+v", host, h)
		}
		for _, r := range reasons {
			if h.FailedReasons[r] == 0 {
				return fmt.Errorf("%s: no failure %q in %v", host, r, h.FailedReasons)
			}
		}
		return nil
	})
}
