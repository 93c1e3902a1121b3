package pki

import (
	"context"
	"crypto"
	"fmt"
	"slices"
	"time"
)

// Set is the material of the Cloudflare docs' recipe: a private CA (installed
// on the origin) and the client certificate it issued (uploaded to
// Cloudflare).
type Set struct {
	CA, Client *Pair
}

// SetOptions describes a Set to generate.
type SetOptions struct {
	// Domain is the zone's domain: the CA's common name, and the client
	// certificate's name when Hostnames is empty (zone-level AOP).
	Domain string
	// Hostnames, for per-hostname AOP: all of them are the client
	// certificate's DNS SANs, and the first is its common name (or, when it
	// is longer than MaxCommonNameLen, see SetCommonNames).
	Hostnames []string
	KeyType   KeyType
	// Days of validity; zero means DefaultCADays / DefaultCertDays. The client
	// certificate never outlives the CA.
	CADays, CertDays int
	// Progress, when set, is told when each key starts and finishes: RSA
	// keys take seconds. It is called from NewSetContext's goroutine, one
	// event at a time.
	Progress func(GenEvent)
}

// GenEventKind says what a GenEvent reports.
type GenEventKind int

// Kinds of GenEvent.
const (
	// KeyStarted: generation of a key began.
	KeyStarted GenEventKind = iota + 1
	// KeyDone: the key is ready; Elapsed says how long it took.
	KeyDone
)

// Which key of a Set a GenEvent is about.
const (
	KeyCA     = "CA"
	KeyClient = "client"
)

// GenEvent is progress of NewSetContext's key generation.
type GenEvent struct {
	Kind GenEventKind
	// Which is KeyCA or KeyClient.
	Which   string
	KeyType KeyType
	// Elapsed is the time the key took (KeyDone only).
	Elapsed time.Duration
}

// CAOrganizationalUnit is the OU of the CA NewSet generates.
const CAOrganizationalUnit = "Authenticated Origin Pulls CA"

// Common names used when every name is too long for a common name
// (MaxCommonNameLen); the certificates still carry the names in DNS SANs
// (client) and stay told apart by their subjects.
const (
	FallbackCACommonName     = "Authenticated Origin Pulls CA"
	FallbackClientCommonName = "Authenticated Origin Pulls client"
)

// SetCommonNames returns the common names NewSet gives the CA and the
// client certificate for a normalised domain and hostnames: the domain for
// the CA, the first hostname (else the domain) for the client, except that
// a name longer than MaxCommonNameLen, which OpenSSL refuses in a common
// name, is replaced by the next name that fits, else a fixed name. Long
// hostnames stay in the client certificate's DNS names, which is what
// verifiers match (they ignore the common name when DNS names exist).
func SetCommonNames(domain string, hostnames []string) (ca, client string) {
	ca = FallbackCACommonName
	if len(domain) <= MaxCommonNameLen {
		ca = domain
	}
	client = FallbackClientCommonName
	for _, n := range append(slices.Clone(hostnames), domain) {
		if len(n) <= MaxCommonNameLen {
			client = n
			break
		}
	}
	return ca, client
}

// NewSet is NewSetContext without cancellation.
func NewSet(opts SetOptions) (*Set, error) {
	return NewSetContext(context.Background(), opts)
}

// NewSetContext validates the names and generates a CA and a client
// certificate issued by it, both with keys of opts.KeyType. The two keys are
// generated at once (RSA-4096 takes seconds each). When ctx ends first it
// returns at once with an error wrapping ctx.Err().
func NewSetContext(ctx context.Context, opts SetOptions) (*Set, error) {
	if err := ValidateDomain(opts.Domain); err != nil {
		return nil, err
	}
	domain := NormalizeName(opts.Domain)
	var hosts []string
	for _, h := range opts.Hostnames {
		if err := ValidateHostname(h); err != nil {
			return nil, err
		}
		if h = NormalizeName(h); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		hosts = []string{domain}
	}
	kt := opts.KeyType
	if kt == "" {
		kt = DefaultKeyType
	}
	// Checked now so bad input does not cost seconds of key generation.
	for _, d := range []struct {
		what string
		days int
	}{{"CA", opts.CADays}, {"certificate", opts.CertDays}} {
		if err := checkDays(d.what, d.days); err != nil {
			return nil, err
		}
	}
	keys, err := generateKeys(ctx, kt, opts.Progress, KeyCA, KeyClient)
	if err != nil {
		return nil, err
	}
	caCN, clientCN := SetCommonNames(domain, hosts)
	// CN = the domain as the docs say; the OU keeps the CA's subject apart
	// from a client certificate named after the domain (zone-level, or an
	// apex hostname), which OpenSSL would otherwise take for self-signed.
	ca, err := NewCA(CAOptions{CommonName: caCN, OrganizationalUnit: CAOrganizationalUnit, Key: keys[0], Days: opts.CADays})
	if err != nil {
		return nil, err
	}
	client, err := IssueClient(ca, ClientOptions{
		CommonName: clientCN, DNSNames: hosts, Key: keys[1], Days: opts.CertDays,
	})
	if err != nil {
		return nil, err
	}
	return &Set{CA: ca, Client: client}, nil
}

// generateKeys makes one key of type kt per name in which, concurrently,
// reporting each start and end to progress from the caller's goroutine.
func generateKeys(ctx context.Context, kt KeyType, progress func(GenEvent), which ...string) ([]crypto.Signer, error) {
	if _, err := ParseKeyType(string(kt)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("key generation stopped: %w", err)
	}
	if progress == nil {
		progress = func(GenEvent) {}
	}
	type result struct {
		i       int
		key     crypto.Signer
		err     error
		elapsed time.Duration
	}
	// Buffered, so generators whose result is no longer wanted finish and
	// are collected without anyone reading.
	done := make(chan result, len(which))
	for i, w := range which {
		progress(GenEvent{Kind: KeyStarted, Which: w, KeyType: kt})
		go func() {
			start := time.Now()
			k, err := generateKey(kt)
			done <- result{i, k, err, time.Since(start)}
		}()
	}
	keys := make([]crypto.Signer, len(which))
	for range which {
		select {
		case r := <-done:
			if r.err != nil {
				return nil, fmt.Errorf("generate the %s key: %w", which[r.i], r.err)
			}
			keys[r.i] = r.key
			progress(GenEvent{Kind: KeyDone, Which: which[r.i], KeyType: kt, Elapsed: r.elapsed})
		case <-ctx.Done():
			return nil, fmt.Errorf("key generation stopped: %w", ctx.Err())
		}
	}
	return keys, nil
}

// Codes of the findings Set.Warnings returns. The first two are warnings;
// the others are notes (worth knowing, nothing to fix).
const (
	WarnCAKeyUnencrypted    = "ca-key-unencrypted"
	WarnHostnameOutsideZone = "hostname-outside-zone"
	NoteCertExpiresWithCA   = "cert-expires-with-ca"
	NoteCommonNameShortened = "common-name-shortened"
)

// Warnings returns what the operator should know about s, made by NewSet
// from opts and written with w: an unencrypted CA key, hostnames outside the
// zone, a client certificate cut short by the CA's expiry, and names too
// long for a common name.
func (s *Set) Warnings(opts SetOptions, w WriteOptions) []Finding {
	var fs []Finding
	if w.Unencrypted {
		fs = append(fs, Finding{WarnCAKeyUnencrypted,
			CAKeyFile + " is NOT encrypted: anyone who can read it can mint client certificates your origin accepts",
			"keep it offline"})
	}
	for _, h := range opts.Hostnames {
		if !InDomain(h, opts.Domain) {
			fs = append(fs, Finding{WarnHostnameOutsideZone,
				fmt.Sprintf("%s is not within %s: per-hostname AOP applies only to hostnames of the zone", h, opts.Domain), ""})
		}
	}
	if s == nil || s.CA == nil || s.Client == nil {
		return fs
	}
	days := opts.CertDays
	if days == 0 {
		days = DefaultCertDays
	}
	leaf := s.Client.Cert
	if want := leaf.NotBefore.AddDate(0, 0, days); leaf.NotAfter.Before(want.Add(-time.Minute)) {
		fs = append(fs, Finding{NoteCertExpiresWithCA,
			fmt.Sprintf("the client certificate expires with the CA, on %s, not after %d days", leaf.NotAfter.Format(time.DateOnly), days), ""})
	}
	if d := NormalizeName(opts.Domain); len(d) > MaxCommonNameLen {
		fs = append(fs, Finding{NoteCommonNameShortened,
			fmt.Sprintf("the domain is %d characters long, more than the %d a common name holds: the CA's common name is %q", len(d), MaxCommonNameLen, s.CA.Cert.Subject.CommonName), ""})
	}
	if len(opts.Hostnames) > 0 {
		if h := NormalizeName(opts.Hostnames[0]); len(h) > MaxCommonNameLen {
			fs = append(fs, Finding{NoteCommonNameShortened,
				fmt.Sprintf("%s is %d characters long, more than the %d a common name holds: the client certificate names it in its DNS names only, with common name %q", h, len(h), MaxCommonNameLen, leaf.Subject.CommonName), ""})
		}
	}
	return fs
}
