package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Defaults for validity periods, in days: the CA follows the Cloudflare docs
// (five years); the leaf is shorter so it is rotated before the CA is.
const (
	DefaultCADays   = 1826
	DefaultCertDays = 730
	// MaxDays bounds validity well below where the arithmetic on
	// time.Duration would overflow.
	MaxDays = 36500
	// MaxCommonNameLen is RFC 5280's ub-common-name: OpenSSL refuses to
	// make a longer common name, and other verifiers may refuse to read one.
	// Longer DNS names go in the subjectAltName only.
	MaxCommonNameLen = 64
)

func checkCommonName(what, cn string) error {
	if n := len(cn); n > MaxCommonNameLen {
		return fmt.Errorf("%s common name %q is %d characters long, more than the %d RFC 5280 allows: use a shorter common name and put long hostnames in the DNS names only", what, cn, n, MaxCommonNameLen)
	}
	return nil
}

func checkDays(what string, days int) error {
	if days < 0 || days > MaxDays {
		return fmt.Errorf("%s validity of %d days is out of range: use 1 to %d days", what, days, MaxDays)
	}
	return nil
}

// Pair is a certificate and its private key.
type Pair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertPEM encodes the certificate as PEM.
func (p *Pair) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
}

// KeyPEM encodes the private key as unencrypted PKCS#8 PEM ("PRIVATE KEY"),
// the form Cloudflare accepts for uploads.
func (p *Pair) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// TLSCertificate returns the pair in the form crypto/tls uses.
func (p *Pair) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{p.Cert.Raw}, PrivateKey: p.Key, Leaf: p.Cert}
}

// CAOptions describes a CA to generate.
type CAOptions struct {
	// CommonName is the zone's domain, as in the Cloudflare docs.
	CommonName string
	// Organization is optional; it helps operators tell CAs apart in logs.
	Organization string
	// OrganizationalUnit is optional. The AOP set uses it so the CA's
	// subject never equals a client certificate's named after the domain.
	OrganizationalUnit string
	KeyType            KeyType
	// Key, when set, is used instead of generating a key of KeyType.
	Key crypto.Signer
	// Days of validity from NotBefore; zero means DefaultCADays.
	Days int
	// NotBefore defaults to now minus a small clock-skew allowance.
	NotBefore time.Time
}

// ClientOptions describes a client (leaf) certificate to issue.
type ClientOptions struct {
	// CommonName is the hostname (per-hostname AOP) or the domain (zone-level).
	CommonName string
	DNSNames   []string
	KeyType    KeyType
	// Key, when set, is used instead of generating a key of KeyType.
	Key crypto.Signer
	// Days of validity; zero means DefaultCertDays. The result never outlives
	// the CA.
	Days int
	// NotBefore / NotAfter override the computed window (tests use them to
	// make expired or not-yet-valid certificates).
	NotBefore, NotAfter time.Time
}

// ServerOptions describes an origin server certificate (used by tests, the
// simulator's edge and the builtin origin; not part of the AOP flow).
type ServerOptions struct {
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	KeyType    KeyType
	Days       int
}

// clockSkew backdates NotBefore so a certificate is valid on a machine whose
// clock is slightly behind ours.
const clockSkew = 5 * time.Minute

// NewSerial returns a random positive 128-bit serial number.
func NewSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generate serial number: %w", err)
		}
		if n.BitLen() > 64 { // keep serials long so they never collide in practice
			return n, nil
		}
	}
}

// NewCA generates a self-signed CA suitable for signing AOP client
// certificates: CA:TRUE with pathlen 0, keyCertSign and cRLSign.
func NewCA(opts CAOptions) (*Pair, error) {
	if opts.CommonName == "" {
		return nil, errors.New("CA common name is empty: name the CA after the zone's domain")
	}
	if err := checkCommonName("CA", opts.CommonName); err != nil {
		return nil, err
	}
	days := opts.Days
	if days == 0 {
		days = DefaultCADays
	}
	if err := checkDays("CA", days); err != nil {
		return nil, err
	}
	key, err := keyFor(opts.Key, opts.KeyType)
	if err != nil {
		return nil, err
	}
	notBefore := opts.NotBefore
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-clockSkew)
	}
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: opts.CommonName}
	if opts.Organization != "" {
		subject.Organization = []string{opts.Organization}
	}
	if opts.OrganizationalUnit != "" {
		subject.OrganizationalUnit = []string{opts.OrganizationalUnit}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             notBefore.UTC(),
		NotAfter:              notBefore.Add(time.Duration(days) * 24 * time.Hour).UTC(),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SignatureAlgorithm:    signatureAlgorithm(key),
	}
	return sign(tmpl, tmpl, key, key)
}

// IssueClient issues an AOP client certificate from ca: CA:FALSE (critical),
// digitalSignature (+keyEncipherment for RSA), extKeyUsage clientAuth.
func IssueClient(ca *Pair, opts ClientOptions) (*Pair, error) {
	if opts.CommonName == "" {
		return nil, errors.New("client certificate common name is empty: name it after the hostname or domain")
	}
	if err := checkCommonName("client certificate", opts.CommonName); err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: opts.CommonName},
		DNSNames:    opts.DNSNames,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return issueLeaf(ca, tmpl, opts.Key, opts.KeyType, opts.Days, DefaultCertDays, opts.NotBefore, opts.NotAfter)
}

// IssueServer issues a TLS server certificate from ca.
func IssueServer(ca *Pair, opts ServerOptions) (*Pair, error) {
	if err := checkCommonName("server certificate", opts.CommonName); err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: opts.CommonName},
		DNSNames:    opts.DNSNames,
		IPAddresses: opts.IPs,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return issueLeaf(ca, tmpl, nil, opts.KeyType, opts.Days, DefaultCertDays, time.Time{}, time.Time{})
}

func issueLeaf(ca *Pair, tmpl *x509.Certificate, key crypto.Signer, kt KeyType, days, defDays int, notBefore, notAfter time.Time) (*Pair, error) {
	if ca == nil || ca.Cert == nil || !ca.Cert.IsCA {
		return nil, errors.New("issuer is not a CA certificate")
	}
	if days == 0 {
		days = defDays
	}
	if err := checkDays("certificate", days); err != nil {
		return nil, err
	}
	key, err := keyFor(key, kt)
	if err != nil {
		return nil, err
	}
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-clockSkew)
		if notBefore.Before(ca.Cert.NotBefore) {
			notBefore = ca.Cert.NotBefore
		}
	}
	if notAfter.IsZero() {
		notAfter = notBefore.Add(time.Duration(days) * 24 * time.Hour)
		if notAfter.After(ca.Cert.NotAfter) {
			notAfter = ca.Cert.NotAfter
		}
	}
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = notBefore.UTC(), notAfter.UTC()
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = false
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	tmpl.SignatureAlgorithm = signatureAlgorithm(ca.Key)
	// Both key identifiers, explicitly: Go adds a subject key identifier to
	// CA certificates only, and leaves out the authority key identifier when
	// the subject equals the issuer's name. Without them OpenSSL (nginx,
	// Apache, HAProxy) takes a leaf named like its CA for self-signed and
	// rejects it ("error 18").
	if tmpl.SubjectKeyId, err = subjectKeyID(key.Public()); err != nil {
		return nil, err
	}
	tmpl.AuthorityKeyId = ca.Cert.SubjectKeyId
	return sign(tmpl, ca.Cert, key, ca.Key)
}

// keyFor returns key, or a new key of type kt (the default when empty).
func keyFor(key crypto.Signer, kt KeyType) (crypto.Signer, error) {
	if key != nil {
		return key, nil
	}
	if kt == "" {
		kt = DefaultKeyType
	}
	return GenerateKey(kt)
}

func sign(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) (*Pair, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse signed certificate: %w", err)
	}
	return &Pair{Cert: cert, Key: key}, nil
}

// subjectKeyID is RFC 5280's method 1: the SHA-1 of the subjectPublicKey
// bits, as Go and OpenSSL compute it for CA certificates.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	var spki struct {
		Algorithm        pkix.AlgorithmIdentifier
		SubjectPublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	sum := sha1.Sum(spki.SubjectPublicKey.Bytes) //nolint:gosec // an identifier, as RFC 5280 specifies
	return sum[:], nil
}
