package render

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/aopwizard/aopwizard/origin/cfca"
)

func globalCAPEM() []byte { return cfca.PEM() }

// CABundle concatenates PEM certificates into one CA bundle, dropping any
// text outside the PEM blocks (comment headers confuse some parsers) and
// duplicate certificates. Each input must hold at least one CA certificate
// and nothing but certificates: a private key in a bundle would be served
// to anyone who can read the server's configuration.
func CABundle(pems ...[]byte) ([]byte, error) {
	var out bytes.Buffer
	seen := map[string]bool{}
	for i, data := range pems {
		found := false
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("CA input %d holds a %s block; a CA bundle must hold only certificates", i+1, b.Type)
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("CA input %d: parse certificate: %w", i+1, err)
			}
			if !c.IsCA {
				return nil, fmt.Errorf("CA input %d: %q is not a CA certificate; give the CA that issued the client certificate, not the client certificate", i+1, c.Subject)
			}
			found = true
			if seen[string(b.Bytes)] {
				continue
			}
			seen[string(b.Bytes)] = true
			if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes}); err != nil {
				return nil, fmt.Errorf("encode CA bundle: %w", err)
			}
		}
		if !found {
			return nil, fmt.Errorf("CA input %d holds no PEM certificate", i+1)
		}
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("no CA certificates given for the bundle")
	}
	return out.Bytes(), nil
}
