package pki_test

import (
	"testing"

	"github.com/aopwizard/aopwizard/pki"
)

// BenchmarkGenerate measures a whole set (CA + client certificate) per key
// type: what aopwizard pki generate costs, dominated by RSA key generation.
func BenchmarkGenerate(b *testing.B) {
	for _, kt := range pki.KeyTypes {
		b.Run(string(kt), func(b *testing.B) {
			for b.Loop() {
				if _, err := pki.NewSet(pki.SetOptions{Domain: "example.com", Hostnames: []string{"app.example.com"}, KeyType: kt}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGenerateEncryptCAKey measures encrypting rootca.key (PBKDF2 with
// pemutil's 600000 iterations), the other fixed cost of generate.
func BenchmarkGenerateEncryptCAKey(b *testing.B) {
	set, err := pki.NewSet(pki.SetOptions{Domain: "example.com", KeyType: pki.ECDSAP256})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := set.CA.EncryptedKeyPEM([]byte("passphrase")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck measures checking a fit set, as the wizard does before
// every upload.
func BenchmarkCheck(b *testing.B) {
	set, err := pki.NewSet(pki.SetOptions{Domain: "example.com", KeyType: pki.ECDSAP256})
	if err != nil {
		b.Fatal(err)
	}
	key, err := set.Client.KeyPEM()
	if err != nil {
		b.Fatal(err)
	}
	in := pki.CheckInput{CA: set.CA.CertPEM(), Cert: set.Client.CertPEM(), Key: key}
	for b.Loop() {
		if r := pki.Check(in); !r.OK() {
			b.Fatal(r.Problems)
		}
	}
}
