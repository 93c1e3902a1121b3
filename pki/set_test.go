package pki_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

// Key generation reports typed progress: each key starts and is done, from
// the caller's goroutine.
func TestPKINewSetProgress(t *testing.T) {
	t.Parallel()
	var events []pki.GenEvent
	_, err := pki.NewSetContext(context.Background(), pki.SetOptions{Domain: "example.com", KeyType: pki.ECDSAP256,
		Progress: func(e pki.GenEvent) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	var started, done []string
	for _, e := range events {
		if e.KeyType != pki.ECDSAP256 {
			t.Errorf("event %+v: wrong key type", e)
		}
		switch e.Kind {
		case pki.KeyStarted:
			started = append(started, e.Which)
		case pki.KeyDone:
			if !slices.Contains(started, e.Which) || e.Elapsed < 0 {
				t.Errorf("event %+v: done before started, or negative time", e)
			}
			done = append(done, e.Which)
		}
	}
	slices.Sort(done)
	if !slices.Equal(started, []string{pki.KeyCA, pki.KeyClient}) || !slices.Equal(done, []string{pki.KeyCA, pki.KeyClient}) {
		t.Fatalf("events %+v: want CA and client started and done", events)
	}
}

// Ctrl-C during RSA-4096 generation stops NewSetContext at once: it returns
// the context's error without waiting for the keys (no KeyDone follows).
func TestPKINewSetContextCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var events []pki.GenEvent
	set, err := pki.NewSetContext(ctx, pki.SetOptions{Domain: "example.com", KeyType: pki.RSA4096,
		Progress: func(e pki.GenEvent) {
			events = append(events, e)
			cancel()
		}})
	if !errors.Is(err, context.Canceled) || set != nil {
		t.Fatalf("cancelled generation: %v, %v", set, err)
	}
	for _, e := range events {
		if e.Kind == pki.KeyDone {
			t.Fatalf("NewSetContext waited for a key after the cancel: %+v", events)
		}
	}
	if _, err := pki.GenerateKeyContext(ctx, pki.RSA4096); !errors.Is(err, context.Canceled) {
		t.Fatalf("GenerateKeyContext with a cancelled context: %v", err)
	}
	// Bad input is reported before any key is generated.
	events = nil
	if _, err := pki.NewSetContext(context.Background(), pki.SetOptions{Domain: "example.com", CADays: -1, Progress: func(e pki.GenEvent) { events = append(events, e) }}); err == nil || len(events) > 0 {
		t.Fatalf("bad days: %v after %d events", err, len(events))
	}
}

// longName is a valid hostname of exactly 253 characters under domain.
func longName(domain string) string {
	var labels []string
	n := len(domain)
	for n+64 <= 253 {
		labels = append(labels, strings.Repeat("a", 63))
		n += 64
	}
	if rest := 253 - n - 1; rest > 0 {
		labels = append(labels, strings.Repeat("b", rest))
	}
	return strings.Join(append(labels, domain), ".")
}

// Defect: a 253-character hostname became a 253-character CN (RFC 5280
// allows 64; OpenSSL refuses it) and check said ok. Long names go in the
// DNS names only; the common name is the next name that fits.
func TestPKINewSetLongNames(t *testing.T) {
	t.Parallel()
	long := longName("example.com")
	if len(long) != 253 || pki.ValidateHostname(long) != nil {
		t.Fatalf("test name is %d characters: %v", len(long), pki.ValidateHostname(long))
	}
	longDomain := strings.Repeat("d", 63) + ".example.com"
	cases := []struct {
		name             string
		domain           string
		hosts            []string
		caCN, clientCN   string
		wantShortenNotes int
	}{
		{"long hostname", "example.com", []string{long}, "example.com", "example.com", 1},
		{"long first hostname", "example.com", []string{long, "app.example.com"}, "example.com", "app.example.com", 1},
		{"long domain", longDomain, nil, pki.FallbackCACommonName, pki.FallbackClientCommonName, 1},
		{"long domain and hostname", longDomain, []string{longName(longDomain)}, pki.FallbackCACommonName, pki.FallbackClientCommonName, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := pki.SetOptions{Domain: c.domain, Hostnames: c.hosts, KeyType: pki.ECDSAP256}
			set, err := pki.NewSet(opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := set.CA.Cert.Subject.CommonName; got != c.caCN {
				t.Errorf("CA CN %q, want %q", got, c.caCN)
			}
			if got := set.Client.Cert.Subject.CommonName; got != c.clientCN {
				t.Errorf("client CN %q, want %q", got, c.clientCN)
			}
			wantDNS := c.hosts
			if len(wantDNS) == 0 {
				wantDNS = []string{c.domain}
			}
			if !slices.Equal(set.Client.Cert.DNSNames, wantDNS) {
				t.Errorf("DNS names %v, want %v", set.Client.Cert.DNSNames, wantDNS)
			}
			r := pki.Check(pki.CheckInput{CA: set.CA.CertPEM(), Cert: set.Client.CertPEM(), Key: keyPEM(t, set.Client), Hostnames: c.hosts})
			if !r.OK() || len(r.Warnings) > 0 {
				t.Errorf("check of the generated set: %s", findingsText(r))
			}
			notes := 0
			for _, f := range set.Warnings(opts, pki.WriteOptions{}) {
				if f.Code == pki.NoteCommonNameShortened {
					notes++
				}
			}
			if notes != c.wantShortenNotes {
				t.Errorf("%d common-name notes, want %d: %+v", notes, c.wantShortenNotes, set.Warnings(opts, pki.WriteOptions{}))
			}
		})
	}
	if _, err := pki.NewCA(pki.CAOptions{CommonName: long, KeyType: pki.ECDSAP256}); err == nil || !strings.Contains(err.Error(), "more than the 64") {
		t.Errorf("NewCA with a 253-character CN: %v", err)
	}
}

// Check flags a common name over 64 characters, on the leaf and on the CA,
// with what to do.
func TestPKICheckLongCommonName(t *testing.T) {
	t.Parallel()
	long := longName("example.com")
	ca := newFixture(t).CAA
	leaf := customLeaf(t, ca, ca.Key, func(c *x509.Certificate) {
		c.Subject = pkix.Name{CommonName: long}
		c.DNSNames = []string{long}
	})
	r := pki.Check(pki.CheckInput{CA: ca.CertPEM(), Cert: leaf.CertPEM()})
	if !slices.Contains(codes(r.Problems), "cert-cn-too-long") || !strings.Contains(findingsText(r), "253 characters") {
		t.Errorf("leaf with a 253-character CN: %s", findingsText(r))
	}

	tmpl := &x509.Certificate{
		SerialNumber: ca.Cert.SerialNumber, Subject: pkix.Name{CommonName: long},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ca.Key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	r = pki.Check(pki.CheckInput{CA: (&pki.Pair{Cert: cert}).CertPEM(), Cert: leaf.CertPEM()})
	for _, f := range r.Problems {
		if f.Code == "ca-cn-too-long" && f.Remedy != "" {
			return
		}
	}
	t.Errorf("CA with a 253-character CN: %s", findingsText(r))
}

// The notes pki generate prints come from the library, in product terms.
func TestPKISetWarnings(t *testing.T) {
	t.Parallel()
	opts := pki.SetOptions{Domain: "example.com", Hostnames: []string{"app.other.org"}, KeyType: pki.ECDSAP256, CADays: 30}
	set, err := pki.NewSet(opts)
	if err != nil {
		t.Fatal(err)
	}
	ws := set.Warnings(opts, pki.WriteOptions{Unencrypted: true})
	if got := codes(ws); !slices.Equal(got, []string{pki.WarnCAKeyUnencrypted, pki.WarnHostnameOutsideZone, pki.NoteCertExpiresWithCA}) {
		t.Fatalf("warnings %v", got)
	}
	for _, w := range ws {
		if strings.Contains(w.Message+w.Remedy, "--") {
			t.Errorf("warning names a CLI flag: %+v", w)
		}
	}
	opts = pki.SetOptions{Domain: "example.com", Hostnames: []string{"app.example.com"}, KeyType: pki.ECDSAP256, CADays: 30, CertDays: 10}
	if set, err = pki.NewSet(opts); err != nil {
		t.Fatal(err)
	}
	if ws := set.Warnings(opts, pki.WriteOptions{Passphrase: []byte("x")}); len(ws) != 0 {
		t.Fatalf("a set with nothing to note: %+v", ws)
	}
}
