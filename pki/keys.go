// Package pki generates, imports and checks the certificates used for
// Authenticated Origin Pulls: a private CA and the client (leaf) certificate
// Cloudflare presents to the origin.
package pki

import (
	"context"
	"crypto"
	"crypto/dsa"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"
)

// KeyType names a supported private-key algorithm and size.
type KeyType string

// Supported key types. RSA-4096 is the default because it is what the
// Cloudflare docs' openssl recipe produces.
const (
	RSA2048   KeyType = "rsa2048"
	RSA3072   KeyType = "rsa3072"
	RSA4096   KeyType = "rsa4096"
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"

	DefaultKeyType = RSA4096
)

// KeyTypes lists every supported key type, default first.
var KeyTypes = []KeyType{RSA4096, RSA2048, RSA3072, ECDSAP256, ECDSAP384}

// ParseKeyType accepts a key type name as shown by KeyTypes; the empty string
// means the default.
func ParseKeyType(s string) (KeyType, error) {
	if s == "" {
		return DefaultKeyType, nil
	}
	for _, k := range KeyTypes {
		if strings.EqualFold(s, string(k)) {
			return k, nil
		}
	}
	names := make([]string, len(KeyTypes))
	for i, k := range KeyTypes {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unsupported key type %q: use one of %s", s, strings.Join(names, ", "))
}

// GenerateKey makes a new private key of the given type.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	return GenerateKeyContext(context.Background(), kt)
}

// GenerateKeyContext makes a new private key of the given type, returning
// an error wrapping ctx.Err() as soon as ctx is done. RSA-4096 takes seconds
// and the standard library cannot stop it, so the key is made aside and,
// when ctx ends first, thrown away once it is ready.
func GenerateKeyContext(ctx context.Context, kt KeyType) (crypto.Signer, error) {
	keys, err := generateKeys(ctx, kt, nil, "private")
	if err != nil {
		return nil, err
	}
	return keys[0], nil
}

func generateKey(kt KeyType) (crypto.Signer, error) {
	kt, err := ParseKeyType(string(kt))
	if err != nil {
		return nil, err
	}
	switch kt {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("key type %q has no generator", kt)
}

// signatureAlgorithm picks SHA-384 for P-384 keys (matching the curve's
// strength) and SHA-256 for everything else.
func signatureAlgorithm(signer crypto.Signer) x509.SignatureAlgorithm {
	switch pub := signer.Public().(type) {
	case *ecdsa.PublicKey:
		if pub.Curve == elliptic.P384() {
			return x509.ECDSAWithSHA384
		}
		return x509.ECDSAWithSHA256
	case *rsa.PublicKey:
		return x509.SHA256WithRSA
	}
	return x509.UnknownSignatureAlgorithm
}

// DescribeKey returns a short human name for a public key, e.g. "RSA 4096" or
// "ECDSA P-256".
func DescribeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *dsa.PublicKey: //nolint:staticcheck // named only to reject it clearly
		return fmt.Sprintf("DSA %d", k.P.BitLen())
	}
	return fmt.Sprintf("%T", pub)
}
