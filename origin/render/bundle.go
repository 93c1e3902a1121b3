package render

import (
	"bytes"
	"encoding/pem"
	"fmt"

	"github.com/aopwizard/aopwizard/origin/cfca"
	"github.com/aopwizard/aopwizard/pki"
)

func globalCAPEM() []byte { return cfca.PEM() }

// CABundle concatenates PEM certificates into one CA bundle, dropping any
// text outside the PEM blocks (comment headers confuse some parsers) and
// duplicate certificates. Each input must pass pki.ParseCABundle: CA
// certificates only (a private key in a bundle would be served to anyone
// who can read the server's configuration).
func CABundle(pems ...[]byte) ([]byte, error) {
	var out bytes.Buffer
	seen := map[string]bool{}
	for i, data := range pems {
		certs, err := pki.ParseCABundle(data)
		if err != nil {
			return nil, fmt.Errorf("CA input %d: %w", i+1, err)
		}
		for _, c := range certs {
			if seen[string(c.Raw)] {
				continue
			}
			seen[string(c.Raw)] = true
			if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
				return nil, fmt.Errorf("encode CA bundle: %w", err)
			}
		}
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("no CA certificates given for the bundle")
	}
	return out.Bytes(), nil
}
