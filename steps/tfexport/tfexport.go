// Package tfexport writes the Authenticated Origin Pulls objects that exist in
// a zone as Terraform configuration for the Cloudflare provider v5, with
// import blocks for their IDs, so a team can take over a zone set up by hand
// or by aopwizard. Resource and attribute names follow docs/cloudflare-api.md,
// "Terraform v5 resources".
//
// Private keys are never in the output: Cloudflare never returns them, and
// each certificate's key is read with file() from a directory the operator
// names in a variable. Certificates are written as Cloudflare returns them,
// byte for byte, since the provider replaces a certificate whose text
// changes.
package tfexport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aopwizard/aopwizard/cfapi"
)

// Input says what to export.
type Input struct {
	Zone string
	// Hostnames are read one by one where Cloudflare does not serve the
	// list of associations (docs/cloudflare-api.md, "Hidden list of
	// associations"); with the list they add nothing.
	Hostnames []string
}

// Snapshot is what exists in the zone: everything Render needs.
type Snapshot struct {
	Zone          cfapi.Zone
	SSLMode       string
	TLSClientAuth string
	ZoneAOP       bool
	ZoneCerts     []cfapi.Certificate
	HostCerts     []cfapi.Certificate
	Associations  []cfapi.HostnameStatus
	Policies      []cfapi.AlertPolicy
	// PoliciesUnread says the notification policies could not be read
	// (no Notifications permission): the export then leaves them out and
	// says so.
	PoliciesUnread bool
	// OmitZoneAOP leaves the zone-level AOP switch out (an export of a
	// rollout that did not turn it on).
	OmitZoneAOP bool
	// KeyPaths maps certificate ids to the private key file each reads
	// as is, instead of a file in the key directory variable.
	KeyPaths map[string]string
}

// Read takes the snapshot; cf is read through every role of cfapi.Client
// but token verification. Only live objects are kept: deleted and
// deleting certificates, and voided associations, are not configuration.
func Read(ctx context.Context, cf cfapi.Client, in Input) (*Snapshot, error) {
	if strings.TrimSpace(in.Zone) == "" {
		return nil, errors.New("no zone given: name the zone to export, e.g. example.com")
	}
	z, err := cf.FindZone(ctx, in.Zone)
	if err != nil {
		return nil, fmt.Errorf("find zone %s: %w", in.Zone, err)
	}
	s := &Snapshot{Zone: z}
	ssl, err := cf.SSLMode(ctx, z.ID)
	if err != nil {
		return nil, fmt.Errorf("read the SSL/TLS mode: %w", err)
	}
	s.SSLMode = ssl.Value
	tca, err := cf.TLSClientAuth(ctx, z.ID)
	if err != nil {
		return nil, fmt.Errorf("read global AOP (tls_client_auth): %w", err)
	}
	s.TLSClientAuth = tca.Value
	if s.ZoneAOP, err = cf.ZoneAOPEnabled(ctx, z.ID); err != nil {
		return nil, fmt.Errorf("read the zone-level AOP switch: %w", err)
	}
	for _, level := range []cfapi.Level{cfapi.LevelZone, cfapi.LevelHostname} {
		certs, err := cf.ListCertificates(ctx, z.ID, level)
		if err != nil {
			return nil, fmt.Errorf("list %s-level certificates: %w", level, err)
		}
		certs = slices.DeleteFunc(certs, func(c cfapi.Certificate) bool { return c.Status.Gone() })
		if level == cfapi.LevelZone {
			s.ZoneCerts = certs
		} else {
			s.HostCerts = certs
		}
	}
	if s.Associations, err = readAssociations(ctx, cf, z.ID, in.Hostnames); err != nil {
		return nil, err
	}
	if z.AccountID != "" {
		ps, err := cf.ListAlertPolicies(ctx, z.AccountID)
		switch {
		case cfapi.IsKind(err, cfapi.KindPermission):
			s.PoliciesUnread = true
		case err != nil:
			return nil, fmt.Errorf("list notification policies: %w", err)
		}
		for _, p := range ps {
			if p.AlertType == cfapi.AlertZoneCertExpiry || p.AlertType == cfapi.AlertHostnameCertExpiry {
				s.Policies = append(s.Policies, p)
			}
		}
	}
	return s, nil
}

func readAssociations(ctx context.Context, a cfapi.Associations, zoneID string, hostnames []string) ([]cfapi.HostnameStatus, error) {
	list, err := a.ListHostnameAssociations(ctx, zoneID, "all")
	if errors.Is(err, cfapi.ErrListUnavailable) {
		list, err = nil, nil
		for _, h := range hostnames {
			st, herr := a.HostnameStatus(ctx, zoneID, strings.ToLower(h))
			if cfapi.IsKind(herr, cfapi.KindNotFound) {
				continue
			}
			if herr != nil {
				return nil, fmt.Errorf("read the association of %s: %w", h, herr)
			}
			list = append(list, st)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list hostname associations: %w", err)
	}
	// A voided association reads back with enabled false and a deleting
	// status (docs/cloudflare-api.md, "Associations"): not configuration.
	list = slices.DeleteFunc(list, func(h cfapi.HostnameStatus) bool {
		return h.Enabled == nil || h.Status.Gone()
	})
	slices.SortFunc(list, func(x, y cfapi.HostnameStatus) int { return strings.Compare(x.Hostname, y.Hostname) })
	return list, nil
}
