package pki

import "slices"

// Set is the material of the Cloudflare docs' recipe: a private CA (installed
// on the origin) and the client certificate it issued (uploaded to
// Cloudflare).
type Set struct {
	CA, Client *Pair
}

// SetOptions describes a Set to generate.
type SetOptions struct {
	// Domain is the zone's domain: the CA's common name, and the client
	// certificate's name when Hostnames is empty (zone-level AOP).
	Domain string
	// Hostnames, for per-hostname AOP: the first is the client certificate's
	// common name and all of them are its DNS SANs.
	Hostnames []string
	KeyType   KeyType
	// Days of validity; zero means DefaultCADays / DefaultCertDays. The client
	// certificate never outlives the CA.
	CADays, CertDays int
}

// CAOrganizationalUnit is the OU of the CA NewSet generates.
const CAOrganizationalUnit = "Authenticated Origin Pulls CA"

// NewSet validates the names and generates a CA and a client certificate
// issued by it, both with keys of opts.KeyType.
func NewSet(opts SetOptions) (*Set, error) {
	if err := ValidateDomain(opts.Domain); err != nil {
		return nil, err
	}
	domain := NormalizeName(opts.Domain)
	var hosts []string
	for _, h := range opts.Hostnames {
		if err := ValidateHostname(h); err != nil {
			return nil, err
		}
		if h = NormalizeName(h); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		hosts = []string{domain}
	}
	// CN = the domain as the docs say; the OU keeps the CA's subject apart
	// from a client certificate named after the domain (zone-level, or an
	// apex hostname), which OpenSSL would otherwise take for self-signed.
	ca, err := NewCA(CAOptions{CommonName: domain, OrganizationalUnit: CAOrganizationalUnit, KeyType: opts.KeyType, Days: opts.CADays})
	if err != nil {
		return nil, err
	}
	client, err := IssueClient(ca, ClientOptions{
		CommonName: hosts[0], DNSNames: hosts, KeyType: opts.KeyType, Days: opts.CertDays,
	})
	if err != nil {
		return nil, err
	}
	return &Set{CA: ca, Client: client}, nil
}
