package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	"go.step.sm/crypto/pemutil"
)

// Sentinel errors of the import path; the errors returned wrap them and add
// what to do.
var (
	ErrEmpty           = errors.New("file is empty")
	ErrNotCertificate  = errors.New("not a certificate")
	ErrNotPrivateKey   = errors.New("not a private key")
	ErrEncryptedKey    = errors.New("private key is encrypted")
	ErrWrongPassphrase = errors.New("wrong passphrase")
	ErrUnsupportedKey  = errors.New("unsupported key")
	// ErrUnsupportedEncryption: the key is encrypted in a way aopwizard does
	// not decrypt (another scheme, or more PBKDF2 iterations than it allows).
	ErrUnsupportedEncryption = errors.New("unsupported key encryption")
	ErrMalformed             = errors.New("malformed data")
)

// PEM block types the import path recognises.
const (
	pemCertificate  = "CERTIFICATE"
	pemPKCS8        = "PRIVATE KEY"
	pemPKCS8Enc     = "ENCRYPTED PRIVATE KEY"
	pemPKCS1        = "RSA PRIVATE KEY"
	pemSEC1         = "EC PRIVATE KEY"
	pemECParameters = "EC PARAMETERS"
)

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidDSA    = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}
	oidEd448  = asn1.ObjectIdentifier{1, 3, 101, 113}
	oidX25519 = asn1.ObjectIdentifier{1, 3, 101, 110}
)

// ReencryptRemedy is what to do about a key encrypted in a way aopwizard
// does not read (ErrUnsupportedEncryption): re-encrypt it with the
// parameters pki itself writes (600000 iterations, as pemutil).
const ReencryptRemedy = "re-encrypt it with supported parameters (openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000 -in KEY -out NEW.key), or decrypt it (openssl pkey -in KEY -out NEW.key)"

// maxPBKDF2Iterations bounds the work (about a second) a crafted encrypted
// key can demand; OpenSSL uses 2048 iterations and pemutil 600000.
const maxPBKDF2Iterations = 2_000_000

// pemBlocks decodes every PEM block in data, allowing text around them (the
// Cloudflare CA file has a comment header). It fails on a BEGIN line that
// does not start a decodable block, so truncated files are not silently
// read as shorter ones.
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := data
	for {
		i := bytes.Index(rest, []byte("-----BEGIN "))
		if i < 0 {
			return blocks, nil
		}
		block, after := pem.Decode(rest[i:])
		if block == nil {
			return nil, fmt.Errorf("%w: a PEM block is truncated or damaged (a BEGIN line without a matching END line, or bad base64): copy the whole file again, from -----BEGIN to -----END", ErrMalformed)
		}
		blocks = append(blocks, block)
		rest = after
	}
}

// looksPEM reports whether data holds a PEM BEGIN line at all; data without
// one is tried as DER.
func looksPEM(data []byte) bool { return bytes.Contains(data, []byte("-----BEGIN ")) }

// ParseCertificates reads one or more certificates in PEM (text around the
// blocks is allowed) or DER. The first is the one the file is about; any
// others are a chain. A file holding a private key, a CSR or a public key
// instead gets an error saying so.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: expected a PEM certificate (-----BEGIN CERTIFICATE-----)", ErrEmpty)
	}
	if !looksPEM(data) {
		return parseDERCertificates(data)
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	var other []string
	for _, b := range blocks {
		if b.Type != pemCertificate {
			other = append(other, b.Type)
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d cannot be parsed (%w): check that the file was copied whole", ErrMalformed, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, notCertificate(other)
	}
	return certs, nil
}

func notCertificate(types []string) error {
	if len(types) == 0 {
		return fmt.Errorf("%w: no PEM block found", ErrNotCertificate)
	}
	switch t := types[0]; {
	case isKeyBlock(t):
		return fmt.Errorf("%w: the file holds a private key (%s), not a certificate: pass the .crt file here and the .key file as the key", ErrNotCertificate, t)
	case t == "CERTIFICATE REQUEST" || t == "NEW CERTIFICATE REQUEST":
		return fmt.Errorf("%w: the file holds a certificate signing request (CSR), not a certificate: sign it first (openssl x509 -req -in cert.csr -CA rootca.crt -CAkey rootca.key -extfile cert.v3.ext …)", ErrNotCertificate)
	case t == "PUBLIC KEY":
		return fmt.Errorf("%w: the file holds a public key, not a certificate: pass the certificate (.crt)", ErrNotCertificate)
	default:
		return fmt.Errorf("%w: the file holds a %q PEM block, not a certificate", ErrNotCertificate, t)
	}
}

func parseDERCertificates(data []byte) ([]*x509.Certificate, error) {
	certs, err := x509.ParseCertificates(data)
	if err == nil && len(certs) > 0 {
		return certs, nil
	}
	if _, kerr := parseDERKey(data); kerr == nil || errors.Is(kerr, ErrEncryptedKey) || errors.Is(kerr, ErrUnsupportedKey) {
		return nil, fmt.Errorf("%w: the file holds a DER private key, not a certificate: pass the .crt file here and the .key file as the key", ErrNotCertificate)
	}
	return nil, fmt.Errorf("%w: neither a PEM certificate (-----BEGIN CERTIFICATE-----) nor DER: check that you picked the right file", ErrNotCertificate)
}

func isKeyBlock(t string) bool {
	switch t {
	case pemPKCS8, pemPKCS8Enc, pemPKCS1, pemSEC1, "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return true
	}
	return false
}

// ParsePrivateKey reads a private key in PEM (PKCS#8, PKCS#1, SEC 1, encrypted
// PKCS#8 or legacy encrypted PEM; other blocks such as certificates or EC
// PARAMETERS may surround it) or DER. An encrypted key needs passphrase: with
// none the error wraps ErrEncryptedKey, with a wrong one ErrWrongPassphrase.
// Keys of other algorithms wrap ErrUnsupportedKey.
func ParsePrivateKey(data, passphrase []byte) (crypto.Signer, error) {
	k, _, err := parsePrivateKey(data, passphrase)
	return k, err
}

// KeyIsEncrypted reports whether data holds an encrypted private key, without
// needing the passphrase.
func KeyIsEncrypted(data []byte) bool {
	_, enc, err := parsePrivateKey(data, nil)
	return enc || errors.Is(err, ErrEncryptedKey)
}

// parsePrivateKey also reports whether the key was stored encrypted.
func parsePrivateKey(data, passphrase []byte) (crypto.Signer, bool, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, false, fmt.Errorf("%w: expected a PEM private key (-----BEGIN PRIVATE KEY-----)", ErrEmpty)
	}
	if !looksPEM(data) {
		k, err := parseDERKey(data)
		if errors.Is(err, ErrEncryptedKey) && len(passphrase) > 0 {
			k, err = decryptPKCS8(data, passphrase)
			return k, true, err
		}
		return k, errors.Is(err, ErrEncryptedKey), err
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, false, err
	}
	var key *pem.Block
	var other []string
	for _, b := range blocks {
		switch {
		case b.Type == pemECParameters:
		case isKeyBlock(b.Type):
			if key != nil {
				return nil, false, fmt.Errorf("%w: the file holds more than one private key: keep exactly one key per file", ErrMalformed)
			}
			key = b
		default:
			other = append(other, b.Type)
		}
	}
	if key == nil {
		return nil, false, notPrivateKey(other)
	}
	return parseKeyBlock(key, passphrase)
}

func notPrivateKey(types []string) error {
	if len(types) == 0 {
		return fmt.Errorf("%w: no PEM block found", ErrNotPrivateKey)
	}
	switch t := types[0]; t {
	case pemCertificate:
		return fmt.Errorf("%w: the file holds a certificate, not a private key: pass the .key file here and the .crt file as the certificate", ErrNotPrivateKey)
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return fmt.Errorf("%w: the file holds a public key; the private key is needed (the .key file made with the certificate)", ErrNotPrivateKey)
	default:
		return fmt.Errorf("%w: the file holds a %q PEM block, not a private key", ErrNotPrivateKey, t)
	}
}

func parseKeyBlock(b *pem.Block, passphrase []byte) (crypto.Signer, bool, error) {
	switch {
	case b.Type == "DSA PRIVATE KEY":
		return nil, false, unsupported("DSA")
	case b.Type == "OPENSSH PRIVATE KEY":
		return nil, false, fmt.Errorf("%w: the file holds an OpenSSH private key, which Cloudflare and TLS servers do not read: make a new key with aopwizard pki generate or openssl genpkey", ErrUnsupportedKey)
	case x509.IsEncryptedPEMBlock(b): //nolint:staticcheck // legacy OpenSSL "Proc-Type: 4,ENCRYPTED" keys are still common
		if len(passphrase) == 0 {
			return nil, true, encryptedErr()
		}
		der, err := x509.DecryptPEMBlock(b, passphrase) //nolint:staticcheck // see above
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, true, wrongPassphrase()
		}
		if err != nil {
			return nil, true, fmt.Errorf("%w: the encrypted private key cannot be decrypted (%w): decrypt it with openssl pkey", ErrMalformed, err)
		}
		k, err := parseDERKeyAs(b.Type, der)
		if err != nil && !errors.Is(err, ErrUnsupportedKey) {
			return nil, true, wrongPassphrase()
		}
		return k, true, err
	case b.Type == pemPKCS8Enc:
		if len(passphrase) == 0 {
			return nil, true, encryptedErr()
		}
		k, err := decryptPKCS8(b.Bytes, passphrase)
		return k, true, err
	}
	k, err := parseDERKeyAs(b.Type, b.Bytes)
	return k, false, err
}

func encryptedErr() error {
	return fmt.Errorf("%w: give its passphrase", ErrEncryptedKey)
}

func wrongPassphrase() error {
	return fmt.Errorf("%w: the passphrase does not decrypt the private key: check the passphrase file (a trailing newline is ignored)", ErrWrongPassphrase)
}

// encryptedPKCS8 is the part of RFC 8018's PBES2 structure checked before
// decrypting, so crafted input cannot make pemutil panic or spin.
type encryptedPKCS8 struct {
	Algo struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters struct {
			KDF struct {
				Algorithm asn1.ObjectIdentifier
				Params    struct {
					Salt       []byte
					Iterations int
					Rest       asn1.RawValue `asn1:"optional"`
				}
			}
			Cipher struct {
				Algorithm asn1.ObjectIdentifier
				IV        []byte
			}
		}
	}
	Data []byte
}

func decryptPKCS8(der, passphrase []byte) (crypto.Signer, error) {
	var info encryptedPKCS8
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: the encrypted private key cannot be parsed: check that the file was copied whole", ErrMalformed)
	}
	p := info.Algo.Parameters
	switch {
	case !info.Algo.Algorithm.Equal(oidPBES2) || !p.KDF.Algorithm.Equal(oidPBKDF2):
		return nil, fmt.Errorf("%w: the key is encrypted with a scheme other than PBES2/PBKDF2: %s", ErrUnsupportedEncryption, ReencryptRemedy)
	case p.KDF.Params.Iterations < 1 || p.KDF.Params.Iterations > maxPBKDF2Iterations:
		return nil, fmt.Errorf("%w: the key is encrypted with %d PBKDF2 iterations, outside the 1 to %d aopwizard accepts (a bound on the work a crafted key can demand): %s", ErrUnsupportedEncryption, p.KDF.Params.Iterations, maxPBKDF2Iterations, ReencryptRemedy)
	case len(p.Cipher.IV) != 16 && len(p.Cipher.IV) != 8, len(info.Data) == 0, len(info.Data)%len(p.Cipher.IV) != 0:
		return nil, fmt.Errorf("%w: the encrypted private key is damaged (bad IV or length): copy the file again", ErrMalformed)
	}
	plain, err := safeDecrypt(der, passphrase)
	if err != nil {
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, wrongPassphrase()
		}
		return nil, fmt.Errorf("%w: the encrypted private key cannot be decrypted (%w): %s", ErrUnsupportedEncryption, err, ReencryptRemedy)
	}
	k, err := parseDERKeyAs(pemPKCS8, plain)
	if err != nil && !errors.Is(err, ErrUnsupportedKey) {
		// Padding matched by chance: the passphrase was wrong all the same.
		return nil, wrongPassphrase()
	}
	return k, err
}

// safeDecrypt turns a panic inside the decryption library (crafted input the
// checks above did not foresee) into an error.
func safeDecrypt(der, passphrase []byte) (plain []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			plain, err = nil, fmt.Errorf("%w: the encrypted private key is damaged", ErrMalformed)
		}
	}()
	return pemutil.DecryptPKCS8PrivateKey(bytes.Clone(der), passphrase)
}

// parseDERKey tries every unencrypted DER key encoding, then the encrypted
// PKCS#8 one.
func parseDERKey(der []byte) (crypto.Signer, error) {
	for _, t := range []string{pemPKCS8, pemPKCS1, pemSEC1} {
		if k, err := parseDERKeyAs(t, der); err == nil || errors.Is(err, ErrUnsupportedKey) {
			return k, err
		}
	}
	var info encryptedPKCS8
	if _, err := asn1.Unmarshal(der, &info); err == nil && info.Algo.Algorithm.Equal(oidPBES2) {
		return nil, encryptedErr()
	}
	return nil, fmt.Errorf("%w: neither a PEM private key (-----BEGIN PRIVATE KEY-----) nor DER: check that you picked the right file", ErrNotPrivateKey)
}

func parseDERKeyAs(pemType string, der []byte) (crypto.Signer, error) {
	var k any
	var err error
	switch pemType {
	case pemPKCS1:
		k, err = x509.ParsePKCS1PrivateKey(der)
	case pemSEC1:
		k, err = x509.ParseECPrivateKey(der)
	default:
		k, err = x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			if alg := pkcs8Algorithm(der); alg != "" {
				return nil, unsupported(alg)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the private key cannot be parsed (%w): check that the file was copied whole", ErrMalformed, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, unsupported(fmt.Sprintf("%T", k))
	}
	return s, nil
}

// pkcs8Algorithm names the algorithm of a PKCS#8 key Go cannot load, so the
// error can say "DSA" instead of an OID.
func pkcs8Algorithm(der []byte) string {
	var p struct {
		Version int
		Algo    pkix.AlgorithmIdentifier
		Key     []byte
	}
	if _, err := asn1.Unmarshal(der, &p); err != nil {
		return ""
	}
	switch a := p.Algo.Algorithm; {
	case a.Equal(oidDSA):
		return "DSA"
	case a.Equal(oidEd448):
		return "Ed448"
	case a.Equal(oidX25519):
		return "X25519"
	case len(a) > 0:
		return "algorithm " + a.String()
	}
	return ""
}

func unsupported(alg string) error {
	return fmt.Errorf("%w: %s keys are not accepted for AOP: use RSA (2048 bits or more) or ECDSA P-256/P-384", ErrUnsupportedKey, alg)
}

// CheckKeySupported returns an error wrapping ErrUnsupportedKey, with the
// reason, unless pub is a key Cloudflare accepts for AOP: RSA of at least
// 2048 bits or ECDSA P-256/P-384.
func CheckKeySupported(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 {
			return fmt.Errorf("%w: RSA %d is too weak: Cloudflare accepts RSA of 2048 bits or more; make a new key of 2048 bits or more", ErrUnsupportedKey, n)
		}
		return nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("%w: ECDSA %s is not accepted: use ECDSA P-256 or P-384", ErrUnsupportedKey, k.Curve.Params().Name)
	}
	return unsupported(DescribeKey(pub))
}
