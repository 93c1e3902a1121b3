package cfsim

import (
	"slices"
	"strings"
)

// Snapshot is what a zone looks like to its owner: the settings, the
// certificates in use, the associations in force and the account's alert
// policies. Tests compare two of them to prove a rollback left the zone as
// it found it.
type Snapshot struct {
	SSL, TLSClientAuth string
	ZoneAOPEnabled     bool
	// Certificates leaves out those pending deletion or deleted: Cloudflare
	// finishes a deletion by itself.
	Certificates []SnapshotCert
	// Associations leaves out voided ones (enabled null): voiding is how an
	// association is removed (docs/cloudflare-api.md, "Associations").
	Associations []SnapshotAssoc
	Policies     []PolicyInfo
}

// SnapshotCert is one certificate in a Snapshot.
type SnapshotCert struct {
	ID       string
	Hostname bool
	Serial   string
	Status   string
}

// SnapshotAssoc is one association in a Snapshot.
type SnapshotAssoc struct {
	Hostname, CertID string
	Enabled          bool
}

// Snapshot reads the zone named zoneName without advancing any lifecycle.
func (s *Sim) Snapshot(zoneName string) Snapshot {
	snap := readZone(s, zoneName, func(z *zone) Snapshot {
		out := Snapshot{SSL: z.ssl.value, TLSClientAuth: z.tlsClientAuth.value, ZoneAOPEnabled: z.aopEnabled}
		for _, c := range s.certificates(z) {
			if c.Status != StatusPendingDeletion && c.Status != StatusDeleted {
				out.Certificates = append(out.Certificates, SnapshotCert{ID: c.ID, Hostname: c.Hostname, Serial: c.Serial, Status: c.Status})
			}
		}
		for _, a := range s.associations(z) {
			if a.Enabled != nil {
				out.Associations = append(out.Associations, SnapshotAssoc{Hostname: a.Hostname, CertID: a.CertID, Enabled: *a.Enabled})
			}
		}
		return out
	})
	snap.Policies = s.Policies()
	slices.SortFunc(snap.Policies, func(a, b PolicyInfo) int { return strings.Compare(a.ID, b.ID) })
	return snap
}
