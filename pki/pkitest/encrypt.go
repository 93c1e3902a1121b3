package pkitest

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"testing"
)

// EncryptedKeyPEM encrypts key the way pki.Pair.EncryptedKeyPEM and
// openssl do (PKCS#8, PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC), but
// with OpenSSL's 2048 PBKDF2 iterations instead of pemutil's 600000, which
// take seconds under the race detector. For tests of code that reads
// encrypted keys; tests of the encryption itself use the real thing.
func EncryptedKeyPEM(t testing.TB, key crypto.Signer, passphrase []byte) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	salt, iv := make([]byte, 16), make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	const iterations = 2048
	k, err := pbkdf2.Key(sha256.New, string(passphrase), salt, iterations, 32)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	pad := aes.BlockSize - len(der)%aes.BlockSize
	data := append(der, make([]byte, pad)...)
	for i := len(der); i < len(data); i++ {
		data[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)

	type algorithm struct {
		OID  asn1.ObjectIdentifier
		Null asn1.RawValue
	}
	type kdfParams struct {
		Salt       []byte
		Iterations int
		PRF        algorithm
	}
	type kdf struct {
		OID    asn1.ObjectIdentifier
		Params kdfParams
	}
	type scheme struct {
		OID asn1.ObjectIdentifier
		IV  []byte
	}
	type pbes2 struct {
		OID    asn1.ObjectIdentifier
		Params struct {
			KDF    kdf
			Scheme scheme
		}
	}
	var info struct {
		Algorithm pbes2
		Data      []byte
	}
	info.Algorithm.OID = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	info.Algorithm.Params.KDF = kdf{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}, kdfParams{salt, iterations,
		algorithm{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, asn1.NullRawValue}}}
	info.Algorithm.Params.Scheme = scheme{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, iv}
	info.Data = data
	out, err := asn1.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: out})
}
