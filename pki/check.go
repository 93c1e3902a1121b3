package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ExpiryWarning is how close to expiry a certificate gets a warning; Cloudflare
// sends its own expiration alerts 30 and 14 days ahead.
const ExpiryWarning = 30 * 24 * time.Hour

// CheckInput is the material an operator wants to use for AOP: the CA the
// origin will trust and the client certificate and key to upload. The data
// may be PEM or DER; the names are used in messages (file paths, usually).
type CheckInput struct {
	CA, Cert, Key             []byte
	CAName, CertName, KeyName string
	// Passphrase decrypts an encrypted client key so the other checks can
	// run; the key is still reported, since Cloudflare needs it unencrypted.
	Passphrase []byte
	// Hostnames the certificate is meant for (per-hostname AOP); a name the
	// certificate does not carry is a warning, since Cloudflare does not
	// require it.
	Hostnames []string
	// Now is the time to check validity at; zero means time.Now().
	Now time.Time
}

// Finding is one problem or warning: what is wrong and what to do.
type Finding struct {
	// Code is a stable identifier, e.g. "leaf-is-ca".
	Code    string `json:"code"`
	Message string `json:"message"`
	Remedy  string `json:"remedy,omitempty"`
}

// Report is the result of Check. Problems make the material unfit for
// upload; Warnings do not.
type Report struct {
	Problems []Finding `json:"problems"`
	Warnings []Finding `json:"warnings"`
	// What could be parsed, for callers that go on to use it.
	CA    []*x509.Certificate `json:"-"`
	Chain []*x509.Certificate `json:"-"` // the client certificate first
	Key   crypto.Signer       `json:"-"`
}

// OK reports whether the material is fit for upload.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) problem(code, msg, remedy string) {
	r.Problems = append(r.Problems, Finding{code, msg, remedy})
}

func (r *Report) warn(code, msg, remedy string) {
	r.Warnings = append(r.Warnings, Finding{code, msg, remedy})
}

// Remedy for a leaf that is not marked CA:FALSE, in the docs' own terms.
const leafRemedy = "re-sign the CSR with an extension file: put basicConstraints=CA:FALSE in cert.v3.ext and run " +
	"openssl x509 -req -in cert.csr -CA rootca.crt -CAkey rootca.key -CAcreateserial -out cert.crt -days 730 -sha256 -extfile cert.v3.ext " +
	"(or let aopwizard pki generate make the whole set)"

// Check examines the material and reports every problem it finds, so the
// operator can fix them all in one go.
func Check(in CheckInput) *Report {
	r := &Report{Problems: []Finding{}, Warnings: []Finding{}}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	names(&in)
	var err error
	if r.CA, err = ParseCertificates(in.CA); err != nil {
		r.problem("ca-unreadable", fmt.Sprintf("%s: %v", in.CAName, err), "pass the CA certificate that signed the client certificate (rootca.crt)")
	}
	if r.Chain, err = ParseCertificates(in.Cert); err != nil {
		r.problem("cert-unreadable", fmt.Sprintf("%s: %v", in.CertName, err), "pass the client certificate to upload (cert.crt)")
	}
	r.Key = checkKeyFile(r, in)
	for _, ca := range r.CA {
		checkCA(r, in.CAName, ca, now)
	}
	if len(r.Chain) == 0 {
		// The certificate's key is checked below; without one, check this.
		if r.Key != nil {
			if err := CheckKeySupported(r.Key.Public()); err != nil {
				r.problem("key-unsupported", fmt.Sprintf("%s: %v", in.KeyName, err), "")
			}
		}
		return r
	}
	leaf := r.Chain[0]
	checkLeaf(r, in, leaf, now)
	if len(r.CA) > 0 {
		checkChain(r, in, leaf, now)
	}
	if r.Key != nil {
		checkKeyMatch(r, in, leaf)
	}
	return r
}

func names(in *CheckInput) {
	if in.CAName == "" {
		in.CAName = "the CA certificate"
	}
	if in.CertName == "" {
		in.CertName = "the client certificate"
	}
	if in.KeyName == "" {
		in.KeyName = "the private key"
	}
}

func checkKeyFile(r *Report, in CheckInput) crypto.Signer {
	key, encrypted, err := parsePrivateKey(in.Key, in.Passphrase)
	if encrypted {
		r.problem("key-encrypted",
			fmt.Sprintf("%s is encrypted: Cloudflare cannot use a password-protected key", in.KeyName),
			fmt.Sprintf("decrypt it (openssl pkey -in %s -out cert-plain.key, then chmod 600 cert-plain.key) and upload the decrypted copy", in.KeyName))
	}
	switch {
	case errors.Is(err, ErrEncryptedKey):
		r.warn("key-not-checked", fmt.Sprintf("without its passphrase, %s could not be compared with the certificate", in.KeyName),
			"give its passphrase to check it as well")
		return nil
	case errors.Is(err, ErrWrongPassphrase):
		r.problem("wrong-passphrase", fmt.Sprintf("%s: %v", in.KeyName, err), "")
		return nil
	case errors.Is(err, ErrUnsupportedEncryption):
		// The reason (e.g. too many PBKDF2 iterations) and what to do are
		// in err; "pass the right key" would be wrong advice.
		r.problem("key-encryption-unsupported", fmt.Sprintf("%s could not be decrypted to compare it with the certificate: %v", in.KeyName, err), "")
		return nil
	case errors.Is(err, ErrUnsupportedKey):
		r.problem("key-unsupported", fmt.Sprintf("%s: %v", in.KeyName, err), "")
		return nil
	case err != nil:
		r.problem("key-unreadable", fmt.Sprintf("%s: %v", in.KeyName, err), "pass the private key made with the client certificate (cert.key)")
		return nil
	}
	return key
}

func checkCA(r *Report, name string, ca *x509.Certificate, now time.Time) {
	subj := ca.Subject.String()
	if !ca.IsCA || !ca.BasicConstraintsValid {
		r.problem("ca-not-ca", fmt.Sprintf("%s (%s) is not a CA certificate", name, subj),
			"pass the CA that signed the client certificate (rootca.crt), not the client certificate itself")
	}
	checkValidity(r, "ca", name, ca, now)
	checkCommonNameLen(r, "ca", name, ca, "make a new CA with a common name of at most 64 characters (aopwizard pki generate shortens a long domain)")
	if err := CheckKeySupported(ca.PublicKey); err != nil {
		r.problem("ca-key-unsupported", fmt.Sprintf("%s: %v", name, err), "make a new CA (aopwizard pki generate)")
	}
}

func checkLeaf(r *Report, in CheckInput, leaf *x509.Certificate, now time.Time) {
	switch {
	case leaf.IsCA:
		r.problem("leaf-is-ca",
			fmt.Sprintf("%s is a CA certificate (basicConstraints CA:TRUE), not a leaf: Cloudflare rejects it as \"missing leaf certificate\"", in.CertName),
			leafRemedy)
	case !leaf.BasicConstraintsValid:
		r.problem("leaf-no-basic-constraints",
			fmt.Sprintf("%s has no basicConstraints extension (openssl x509 -req makes such a certificate without -extfile): Cloudflare wants an explicit CA:FALSE and rejects it as \"missing leaf certificate\"", in.CertName),
			leafRemedy)
	}
	if !leaf.IsCA && looksSelfSignedToOpenSSL(leaf) {
		r.problem("cert-subject-is-issuer",
			fmt.Sprintf("%s has the same subject as its issuer (%s) and no key identifiers that tell them apart: OpenSSL, which nginx, Apache and HAProxy verify with, takes it for self-signed and rejects it (\"error 18: self-signed certificate\")", in.CertName, leaf.Subject),
			"issue the client certificate with a subject that differs from the CA's, e.g. the hostname as common name (aopwizard pki generate does), or with a subjectKeyIdentifier (openssl x509 -req adds one)")
	}
	checkValidity(r, "cert", in.CertName, leaf, now)
	checkCommonNameLen(r, "cert", in.CertName, leaf, "issue it again with a common name of at most 64 characters and the long hostname in the DNS names (subjectAltName) only, as aopwizard pki generate does")
	if err := CheckKeySupported(leaf.PublicKey); err != nil {
		r.problem("cert-key-unsupported", fmt.Sprintf("%s: %v", in.CertName, err), "")
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		r.problem("cert-key-usage", fmt.Sprintf("%s has a keyUsage without digitalSignature, so it cannot sign a TLS handshake", in.CertName),
			"issue it again with keyUsage=digitalSignature (or no keyUsage)")
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		r.problem("cert-not-client-auth", fmt.Sprintf("%s is not allowed for TLS client authentication (its extendedKeyUsage lacks clientAuth): origins reject it", in.CertName),
			"issue it again with extendedKeyUsage=clientAuth (or no extendedKeyUsage)")
	}
	if len(r.Chain) > 1 {
		r.warn("cert-has-chain", fmt.Sprintf("%s holds %d more certificate(s) after the client certificate; only the client certificate is uploaded, and whether Cloudflare sends intermediates is undocumented", in.CertName, len(r.Chain)-1),
			"issue the client certificate directly from the CA the origin trusts")
	}
	for _, h := range in.Hostnames {
		if !NamesHostname(leaf, h) {
			r.warn("hostname-mismatch", fmt.Sprintf("%s does not name %s (CN %q, DNS names %s); Cloudflare does not require it, but it makes the certificate harder to tell apart", in.CertName, h, leaf.Subject.CommonName, listOrNone(leaf.DNSNames)),
				"issue certificates that name the hostname (aopwizard pki generate puts each hostname in the DNS names)")
		}
	}
}

// checkCommonNameLen flags a common name over RFC 5280's 64 characters:
// OpenSSL refuses to make one, and verifiers need not accept one.
func checkCommonNameLen(r *Report, code, name string, c *x509.Certificate, remedy string) {
	if n := len(c.Subject.CommonName); n > MaxCommonNameLen {
		r.problem(code+"-cn-too-long", fmt.Sprintf("%s has a common name of %d characters, more than the %d RFC 5280 allows: OpenSSL refuses to make such a certificate, and verifiers may reject it", name, n, MaxCommonNameLen), remedy)
	}
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func checkValidity(r *Report, code, name string, c *x509.Certificate, now time.Time) {
	switch {
	case now.After(c.NotAfter):
		r.problem(code+"-expired", fmt.Sprintf("%s expired on %s", name, c.NotAfter.UTC().Format(time.DateOnly)),
			"issue a new one (aopwizard pki generate)")
	case now.Before(c.NotBefore):
		r.problem(code+"-not-yet-valid", fmt.Sprintf("%s is not valid until %s", name, c.NotBefore.UTC().Format(time.RFC3339)),
			"check this machine's clock, or issue it again with a start date in the past")
	case c.NotAfter.Sub(now) < ExpiryWarning:
		r.warn(code+"-expiring", fmt.Sprintf("%s expires in %d days, on %s", name, daysLeft(c, now), c.NotAfter.UTC().Format(time.DateOnly)),
			"issue a new one soon and upload it before this one expires")
	}
}

// checkChain verifies the leaf against the CA for client authentication, at
// a moment when both are valid, so expiry (reported on its own) does not hide
// a wrong issuer.
func checkChain(r *Report, in CheckInput, leaf *x509.Certificate, now time.Time) {
	roots, inter := CAPool(r.CA), CAPool(r.Chain[1:])
	at := verifyTime(append([]*x509.Certificate{leaf}, r.CA...), now)
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case err == nil:
		if ca := r.CA[0]; leaf.NotAfter.After(ca.NotAfter) {
			r.warn("cert-outlives-ca", fmt.Sprintf("%s is valid until %s but its CA only until %s; origins reject it from then on", in.CertName, leaf.NotAfter.UTC().Format(time.DateOnly), ca.NotAfter.UTC().Format(time.DateOnly)),
				"renew the CA and the client certificate before the CA expires")
		}
	case errors.As(err, &unknown):
		issuer := fmt.Sprintf("it names issuer %q; the CA is %q", leaf.Issuer.String(), r.CA[0].Subject.String())
		if leaf.Issuer.String() == r.CA[0].Subject.String() {
			issuer = fmt.Sprintf("another CA with the same name %q signed it", leaf.Issuer.String())
		}
		r.problem("cert-wrong-ca", fmt.Sprintf("%s was not signed by %s (%s), so origins that trust this CA reject it", in.CertName, in.CAName, issuer),
			"pass the CA that issued the certificate, or issue a new certificate from this CA")
	case errors.As(err, &invalid) && (invalid.Reason == x509.Expired || invalid.Reason == x509.IncompatibleUsage):
		// Reported by checkValidity / checkLeaf already.
	default:
		r.problem("cert-chain", fmt.Sprintf("%s does not verify against %s for client authentication: %v", in.CertName, in.CAName, err),
			"issue a new certificate from this CA (aopwizard pki generate)")
	}
}

// verifyTime is now moved into the window every certificate is valid in,
// when there is one.
func verifyTime(certs []*x509.Certificate, now time.Time) time.Time {
	from, to := certs[0].NotBefore, certs[0].NotAfter
	for _, c := range certs[1:] {
		if c.NotBefore.After(from) {
			from = c.NotBefore
		}
		if c.NotAfter.Before(to) {
			to = c.NotAfter
		}
	}
	switch {
	case from.After(to):
		return now
	case now.Before(from):
		return from
	case now.After(to):
		return to
	}
	return now
}

func checkKeyMatch(r *Report, in CheckInput, leaf *x509.Certificate) {
	if KeyMatches(leaf, r.Key) {
		return
	}
	for _, ca := range r.CA {
		if KeyMatches(ca, r.Key) {
			// "Decrypt it and upload it" would be wrong advice for a CA key.
			r.Problems = slices.DeleteFunc(r.Problems, func(f Finding) bool { return f.Code == "key-encrypted" })
			r.problem("key-is-ca-key", fmt.Sprintf("%s is the CA's private key, not the client certificate's", in.KeyName),
				"pass the key made with the client certificate (cert.key); never upload the CA key")
			return
		}
	}
	r.problem("key-mismatch", fmt.Sprintf("%s does not belong to %s (their public keys differ)", in.KeyName, in.CertName),
		"pass the private key generated together with this certificate; compare with openssl x509 -noout -pubkey -in cert.crt and openssl pkey -pubout -in cert.key")
}

func daysLeft(c *x509.Certificate, now time.Time) int {
	return int(c.NotAfter.Sub(now) / (24 * time.Hour))
}

// NamesHostname reports whether c names host: in a DNS SAN, or in the common
// name when there are no SANs (the docs' recipe makes such certificates; Go's
// VerifyHostname ignores the common name). A leading "*." in the
// certificate matches one label.
func NamesHostname(c *x509.Certificate, host string) bool {
	names := c.DNSNames
	if len(names) == 0 {
		names = []string{c.Subject.CommonName}
	}
	host = NormalizeName(host)
	for _, n := range names {
		n = NormalizeName(n)
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if _, parent, found := strings.Cut(host, "."); found && parent == rest {
				return true
			}
		}
	}
	return false
}

// looksSelfSignedToOpenSSL mirrors OpenSSL's self-signed test (x509v3
// cache_extensions): the subject equals the issuer, the key identifiers do
// not tell them apart, and the signature algorithm fits the certificate's
// own key. Such a leaf fails X509_verify_cert with error 18.
func looksSelfSignedToOpenSSL(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	if len(c.AuthorityKeyId) > 0 && len(c.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
		return false
	}
	return signatureKeyAlgorithm(c.SignatureAlgorithm) == c.PublicKeyAlgorithm
}

// signatureKeyAlgorithm is the key type a signature algorithm signs with.
func signatureKeyAlgorithm(a x509.SignatureAlgorithm) x509.PublicKeyAlgorithm {
	switch a {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA, x509.SHA1WithRSA, x509.MD5WithRSA,
		x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		return x509.RSA
	case x509.ECDSAWithSHA1, x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
		return x509.ECDSA
	case x509.PureEd25519:
		return x509.Ed25519
	}
	return x509.UnknownPublicKeyAlgorithm
}
