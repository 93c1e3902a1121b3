package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// LoadKeyPair reads a certificate file (PEM, the certificate first, then
// any chain) and its private key file, as tls.LoadX509KeyPair does, but
// each read is bounded (MaxInputSize) and refuses what is not a regular
// file, so a wrong path such as /dev/zero fails at once.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := ReadRegular(certFile, MaxInputSize, "certificate file")
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := ReadRegular(keyFile, MaxInputSize, "key file")
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// LoadTrustPool reads the certificates a client trusts to verify a server
// (PEM or DER, bounded like LoadKeyPair). Unlike LoadCAPool it takes a
// certificate without CA:TRUE too: pinning an origin's self-signed server
// certificate is a sound way to verify it, and Go accepts such a root.
func LoadTrustPool(path string) (*x509.CertPool, error) {
	data, err := ReadRegular(path, MaxCABundleSize, "certificate file")
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return CAPool(certs), nil
}
