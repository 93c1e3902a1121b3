package probe

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/aopwizard/aopwizard/pki"
)

// CaseOptions choose the standard cases of a probe run.
type CaseOptions struct {
	// Right is the client certificate the origin must accept (the one
	// uploaded to Cloudflare); nil leaves the right-cert case out.
	Right *tls.Certificate
	// CA, with its key, issued Right; it adds the expired case. nil
	// leaves that case out: only the operator holds the CA's key.
	CA *pki.Pair
	// NoWrongCA leaves out the case with a throwaway CA's certificate.
	NoWrongCA bool
}

// StandardCases are the cases a verification runs, in this order: no
// certificate, the right one, one from a throwaway CA, an expired one
// from the right CA.
func StandardCases(o CaseOptions) ([]Case, error) {
	cases := []Case{NoCert()}
	if o.Right != nil {
		cases = append(cases, RightCert(*o.Right))
	}
	if !o.NoWrongCA {
		c, err := WrongCA()
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	if o.CA != nil {
		c, err := Expired(o.CA)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// LoadClientCert reads a client certificate and its private key (PEM).
// The key stays in memory.
func LoadClientCert(certFile, keyFile string) (*tls.Certificate, error) {
	pair, err := pki.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, &InputError{Input: InputClientCert, Value: certFile, Reason: "cannot be loaded with its key " + keyFile, Err: err,
			Remedy: "check both files are PEM and the key belongs to the certificate"}
	}
	return &pair, nil
}

// LoadCA reads a CA certificate and its key (PEM). The key stays in
// memory and only signs the expired test certificate.
func LoadCA(certFile, keyFile string) (*pki.Pair, error) {
	bad := func(reason, remedy string, err error) error {
		return &InputError{Input: InputCA, Value: certFile, Reason: reason, Remedy: remedy, Err: err}
	}
	pair, err := pki.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, bad("cannot be loaded with its key "+keyFile, "check both files are PEM and the key belongs to the CA", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, bad("cannot be parsed", "give the PEM certificate of the CA that issued the client certificate", err)
	}
	if !cert.IsCA {
		return nil, bad("is not a CA certificate (basicConstraints CA:FALSE)", "give the CA that issued the client certificate, not the certificate itself", nil)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, bad(fmt.Sprintf("has a key (%s) that cannot sign", keyFile), "give the CA's private key", nil)
	}
	return &pki.Pair{Cert: cert, Key: signer}, nil
}

// Targets makes one target per origin address (as users write them, see
// ParseOrigin) and server name, each a copy of base; no server names
// means one target per origin without SNI. Every target is validated.
func Targets(origins, snis []string, base Target) ([]Target, error) {
	if len(origins) == 0 {
		return nil, &InputError{Input: InputOrigin, Reason: "is missing", Remedy: "give the origin's IP address (and port), e.g. 203.0.113.10:443"}
	}
	if len(snis) == 0 {
		snis = []string{""}
	}
	var targets []Target
	for _, o := range origins {
		addr, err := ParseOrigin(o)
		if err != nil {
			return nil, err
		}
		for _, sni := range snis {
			t := base
			t.Addr, t.SNI = addr, sni
			if err := t.Validate(); err != nil {
				return nil, err
			}
			targets = append(targets, t)
		}
	}
	return targets, nil
}
