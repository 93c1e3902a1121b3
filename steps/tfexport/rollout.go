package tfexport

import (
	"slices"
	"strings"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/steps"
)

// Scope is the part of a zone one rollout made: a team that adopts the
// rollout in Terraform takes over its objects, and nothing the zone had
// before or got by hand.
type Scope struct {
	// CertKeys maps each of the rollout's certificate ids to its private
	// key file ("" when the rollout has none, e.g. a reused certificate).
	CertKeys map[string]string
	// Hostnames are the hostnames whose associations are the rollout's.
	Hostnames []string
	// SSLMode, TLSClientAuth and ZoneAOP say the rollout changed that
	// setting; PolicyID is the alert policy it created.
	SSLMode, TLSClientAuth, ZoneAOP bool
	PolicyID                        string
}

// FromRollout is what to read for r, and the scope that narrows the
// snapshot to what r made.
func FromRollout(r *steps.Rollout) (Input, Scope) {
	sc := Scope{CertKeys: map[string]string{}, SSLMode: r.Changes.SSLModeSet, TLSClientAuth: r.Changes.TLSClientAuthSet,
		ZoneAOP: r.Changes.ZoneAOPSet}
	if r.Changes.AlertPolicyCreated {
		sc.PolicyID = r.Changes.AlertPolicyID
	}
	certs := slices.Clone(r.Certificates)
	if r.Rotation != nil {
		certs = append(certs, r.Rotation.New...)
	}
	for _, c := range certs {
		if c.ID != "" {
			sc.CertKeys[c.ID] = c.KeyFile
		}
	}
	hosts := slices.Clone(r.Changes.HostnamesEnabled)
	if r.Inputs.Mode == steps.ModeHostname {
		hosts = append(hosts, r.Inputs.Hostnames...)
	}
	for i, h := range hosts {
		hosts[i] = strings.ToLower(h)
	}
	slices.Sort(hosts)
	sc.Hostnames = slices.Compact(hosts)
	zone := r.Zone.Name
	if zone == "" {
		zone = r.Inputs.Zone
	}
	return Input{Zone: zone, Hostnames: sc.Hostnames}, sc
}

// Restrict keeps in s only what sc names. The certificates of the scope
// read their private key from the rollout's own key file.
func (s *Snapshot) Restrict(sc Scope) {
	mine := func(c cfapi.Certificate) bool { _, ok := sc.CertKeys[c.ID]; return ok }
	s.ZoneCerts = slices.DeleteFunc(s.ZoneCerts, func(c cfapi.Certificate) bool { return !mine(c) })
	s.HostCerts = slices.DeleteFunc(s.HostCerts, func(c cfapi.Certificate) bool { return !mine(c) })
	s.Associations = slices.DeleteFunc(s.Associations, func(a cfapi.HostnameStatus) bool {
		return !slices.Contains(sc.Hostnames, strings.ToLower(a.Hostname))
	})
	s.Policies = slices.DeleteFunc(s.Policies, func(p cfapi.AlertPolicy) bool { return p.ID != sc.PolicyID })
	s.PoliciesUnread = s.PoliciesUnread && sc.PolicyID != ""
	if !sc.SSLMode {
		s.SSLMode = ""
	}
	if !sc.TLSClientAuth {
		s.TLSClientAuth = ""
	}
	s.OmitZoneAOP = !sc.ZoneAOP
	s.KeyPaths = map[string]string{}
	for id, key := range sc.CertKeys {
		if key != "" {
			s.KeyPaths[id] = key
		}
	}
}
