// Package doctor checks the health of a zone's Authenticated Origin Pulls,
// whether or not aopwizard set it up: the SSL mode, which of the three levels
// is on and which certificate wins for each hostname, every uploaded
// certificate's status and expiry, associations that point at certificates
// Cloudflare cannot present, expiry alerts, and, when given origins and
// evidence logs, whether the origins enforce and whether Cloudflare's requests
// verify. The rules are those of docs/cloudflare-api.md, "AOP levels and
// precedence", "Status enum" and "Expiration alerts".
//
// Diagnose only reads: it changes nothing at Cloudflare or at the origin.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/cfca"
	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/pki"
)

// ExpiryWarnDays is how close to expiry a certificate becomes a warning:
// Cloudflare's own expiry alerts fire 30 days before (docs/cloudflare-api.md,
// "Expiration alerts").
const ExpiryWarnDays = 30

// GlobalCAWarnDays is how close to its expiry Cloudflare's global CA turns
// from a note into a warning: origins need its replacement well before.
const GlobalCAWarnDays = 180

// Deps are the doctor's connections to the world, as interfaces so the TUI
// and tests can hand in what they have.
type Deps struct {
	// Cloudflare is read through every role of cfapi.Client (account,
	// settings, certificates, the zone switch, associations, alerts); a
	// fake embeds one fake per role.
	Cloudflare cfapi.Client
	// Now is the clock expiry is judged by; nil means time.Now.
	Now func() time.Time
	// Probe runs the origin probe matrix; nil means probe.Run.
	Probe func(ctx context.Context, targets []probe.Target, cases []probe.Case, opts probe.RunOptions) ([]probe.Result, error)
}

// Input says what to check.
type Input struct {
	// Zone is the zone's name.
	Zone string
	// Hostnames are checked in addition to those with associations: their
	// winning level is reported and, with Origins, they are the probes'
	// server names.
	Hostnames []string
	// Origins are origin addresses to probe straight (see
	// probe.ParseOrigin); none skips the probes.
	Origins []string
	// ClientCert is the certificate Cloudflare presents (the one uploaded);
	// it adds the right-certificate case to the probes.
	ClientCert *tls.Certificate
	// ProbeTimeout bounds each probe; zero means probe.DefaultTimeout.
	ProbeTimeout time.Duration
	// EvidenceLogs are origin evidence logs to read.
	EvidenceLogs []string
	// GlobalCA is the CA behind Cloudflare's global certificate; nil means
	// the real one (origin/cfca). Tests against cfsim give its stand-in.
	GlobalCA *x509.Certificate
}

// Inputs an InputError can name, so a front end can point at its own field
// or flag for each.
const (
	InputZone        = "zone"
	InputHostname    = "hostname"
	InputEvidenceLog = "evidence log"
)

// InputError is an unusable input: which one (an Input constant), and why.
type InputError struct {
	Input  string
	Reason string
	Err    error
}

func (e *InputError) Error() string {
	if e.Err != nil {
		return e.Input + ": " + e.Reason + ": " + e.Err.Error()
	}
	return e.Input + ": " + e.Reason
}

func (e *InputError) Unwrap() error { return e.Err }

// Diagnose checks the zone and returns the report. It fails only when the
// zone cannot be found (or ctx ends); every other failed read becomes a
// finding, so one missing permission does not hide the rest.
func Diagnose(ctx context.Context, d Deps, in Input) (*Report, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Probe == nil {
		d.Probe = probe.Run
	}
	if in.GlobalCA == nil {
		in.GlobalCA = cfca.Cert()
	}
	if strings.TrimSpace(in.Zone) == "" {
		return nil, &InputError{Input: InputZone, Reason: "no zone given: name the zone to check, e.g. example.com"}
	}
	hosts, err := normHostnames(in.Hostnames)
	if err != nil {
		return nil, err
	}
	zone, err := d.Cloudflare.FindZone(ctx, in.Zone)
	if err != nil {
		return nil, fmt.Errorf("find zone %s: %w", in.Zone, err)
	}
	dc := &diag{d: d, in: in, now: d.Now(), zone: zone,
		rep: &Report{Zone: zone.Name, ZoneID: zone.ID, Certificates: []CertState{}, Hostnames: []HostState{}, Findings: []Finding{}}}
	dc.rep.CheckedAt = dc.now
	steps := []func(context.Context) error{
		dc.settings, dc.certificates, func(ctx context.Context) error { return dc.associations(ctx, hosts) },
		dc.precedence, dc.alerts, dc.origins, dc.evidence,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return dc.rep, nil
}

func normHostnames(in []string) ([]string, error) {
	var out []string
	for _, h := range in {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if err := pki.ValidateHostname(h); err != nil {
			return nil, &InputError{Input: InputHostname, Reason: fmt.Sprintf("%q is not a hostname AOP can apply to", h), Err: err}
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out, nil
}

// diag is one Diagnose run's working state.
type diag struct {
	d    Deps
	in   Input
	now  time.Time
	zone cfapi.Zone
	rep  *Report

	sslOK     bool // the SSL mode lets Cloudflare present client certificates
	zoneCerts []cfapi.Certificate
	hostCerts map[string]cfapi.Certificate
	assocs    map[string]cfapi.HostnameStatus
	hostnames []string // every hostname reported, sorted
	byHost    map[string]HostState
}

// readFailed turns a failed read into a finding; it returns ctx's error
// when the run was interrupted, which stops Diagnose.
func (dc *diag) readFailed(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	remedy := "check the API token's permissions and try again"
	var ae *cfapi.APIError
	if errors.As(err, &ae) && ae.Remedy != "" {
		remedy = ae.Remedy
	}
	dc.rep.add(Finding{Severity: Error, Code: CodeReadFailed, Subject: what,
		Message: "could not read " + what + ": " + err.Error(), Remedy: remedy})
	return nil
}

func (dc *diag) settings(ctx context.Context) error {
	ssl, err := dc.d.Cloudflare.SSLMode(ctx, dc.zone.ID)
	if err != nil {
		return dc.readFailed(ctx, "the SSL/TLS encryption mode", err)
	}
	dc.rep.SSLMode = ssl.Value
	dc.sslOK = cfapi.SSLModeAllowsAOP(ssl.Value)
	global, err := dc.d.Cloudflare.TLSClientAuth(ctx, dc.zone.ID)
	if err != nil {
		if err := dc.readFailed(ctx, "global AOP (tls_client_auth)", err); err != nil {
			return err
		}
	} else {
		dc.rep.GlobalAOP = global.Value == "on"
	}
	on, err := dc.d.Cloudflare.ZoneAOPEnabled(ctx, dc.zone.ID)
	if err != nil {
		return dc.readFailed(ctx, "the zone-level AOP switch", err)
	}
	dc.rep.ZoneAOP = on
	return nil
}

// sslFinding is judged after the associations are read, since whether a
// weak mode is an error depends on AOP being configured at all.
func (dc *diag) sslFinding() {
	mode := dc.rep.SSLMode
	if mode == "" {
		return
	}
	configured := dc.rep.GlobalAOP || dc.rep.ZoneAOP
	for _, a := range dc.assocs {
		configured = configured || (a.Enabled != nil && *a.Enabled)
	}
	switch {
	case !dc.sslOK:
		sev := Warn
		msg := fmt.Sprintf("the SSL/TLS encryption mode is %s: Cloudflare reaches the origin over plain HTTP and presents no client certificate", mode)
		if configured {
			sev = Error
			msg += ", so the AOP configured here has no effect"
		}
		dc.rep.add(Finding{Severity: sev, Code: CodeSSLModeNoAOP, Message: msg,
			Remedy: "give the origin a TLS certificate, then set the SSL/TLS encryption mode to Full (strict) in the dashboard or with the API (zone setting ssl = strict)"})
	case mode == cfapi.SSLFull:
		dc.rep.add(Finding{Severity: Info, Code: CodeSSLModeFull,
			Message: "the SSL/TLS encryption mode is full: AOP works, but Cloudflare does not validate the origin's certificate",
			Remedy:  "once the origin has a certificate Cloudflare trusts, switch to Full (strict)"})
	default:
		dc.rep.add(Finding{Severity: OK, Code: CodeSSLModeOK, Message: "the SSL/TLS encryption mode is " + mode})
	}
}

func (dc *diag) certificates(ctx context.Context) error {
	dc.hostCerts = map[string]cfapi.Certificate{}
	for _, level := range []cfapi.Level{cfapi.LevelZone, cfapi.LevelHostname} {
		certs, err := dc.d.Cloudflare.ListCertificates(ctx, dc.zone.ID, level)
		if err != nil {
			if err := dc.readFailed(ctx, string(level)+"-level certificates", err); err != nil {
				return err
			}
			continue
		}
		for _, c := range certs {
			if c.ExpiresOn.IsZero() {
				c.ExpiresOn = pemNotAfter(c.PEM)
			}
			if level == cfapi.LevelZone {
				dc.zoneCerts = append(dc.zoneCerts, c)
			} else {
				dc.hostCerts[c.ID] = c
			}
			dc.judgeCert(c)
		}
	}
	return nil
}

func pemNotAfter(s string) time.Time {
	if c := parsePEM(s); c != nil {
		return c.NotAfter
	}
	return time.Time{}
}

// parsePEM is the first certificate of s, nil when there is none.
func parsePEM(s string) *x509.Certificate {
	certs, err := pki.ParseCertificates([]byte(s))
	if err != nil || len(certs) == 0 {
		return nil
	}
	return certs[0]
}

func (dc *diag) daysLeft(t time.Time) int {
	return int(t.Sub(dc.now).Hours() / 24)
}

func (dc *diag) expired(c cfapi.Certificate) bool {
	return !c.ExpiresOn.IsZero() && !dc.now.Before(c.ExpiresOn)
}

const replaceRemedy = "issue a new client certificate from the same CA, upload it, wait until it is active%s, then delete the old one"

func replaceText(level cfapi.Level) string {
	if level == cfapi.LevelHostname {
		return fmt.Sprintf(replaceRemedy, ", associate its hostnames with it")
	}
	return fmt.Sprintf(replaceRemedy, "")
}

func (dc *diag) judgeCert(c cfapi.Certificate) {
	st := CertState{Level: string(c.Level), ID: c.ID, Status: string(c.Status), Issuer: c.Issuer,
		Serial: c.SerialNumber, ExpiresOn: c.ExpiresOn, DaysLeft: dc.daysLeft(c.ExpiresOn), Severity: OK}
	subject := string(c.Level) + " certificate " + c.ID
	f := Finding{Severity: OK, Code: CodeCertOK, Subject: c.ID}
	switch {
	case c.Status == cfapi.StatusDeleted:
		f.Severity, f.Code = Info, CodeCertDeleted
		f.Message = subject + " is deleted (Cloudflare still lists it)"
	case c.Status == cfapi.StatusPendingDeletion || c.Status == cfapi.StatusDeletionTimedOut:
		f.Severity, f.Code = Info, CodeCertDeleting
		f.Message = fmt.Sprintf("%s is being deleted (%s)", subject, c.Status)
		if c.Status == cfapi.StatusDeletionTimedOut {
			f.Severity = Warn
			f.Remedy = "delete it again; if it stays, ask Cloudflare support"
		}
	case c.Status == cfapi.StatusDeploymentTimedOut:
		f.Severity, f.Code = Error, CodeCertTimedOut
		f.Message = subject + " never deployed (deployment_timed_out): Cloudflare will not present it"
		f.Remedy = "delete it and upload the certificate again"
	case dc.expired(c):
		f.Severity, f.Code = Error, CodeCertExpired
		f.Message = fmt.Sprintf("%s expired on %s (%d days ago); the API still says %s, since it has no expired status",
			subject, c.ExpiresOn.UTC().Format(time.DateOnly), -st.DaysLeft, c.Status)
		f.Remedy, f.Action = replaceText(c.Level), ActionNewClientCert
	case !c.ExpiresOn.IsZero() && c.ExpiresOn.Sub(dc.now) < ExpiryWarnDays*24*time.Hour:
		f.Severity, f.Code = Warn, CodeCertExpiring
		f.Message = fmt.Sprintf("%s expires on %s, in %d days", subject, c.ExpiresOn.UTC().Format(time.DateOnly), st.DaysLeft)
		f.Remedy, f.Action = "before it expires, "+replaceText(c.Level), ActionNewClientCert
	case c.Status != cfapi.StatusActive:
		f.Severity, f.Code = Info, CodeCertDeploying
		f.Message = fmt.Sprintf("%s is %s: Cloudflare presents it once it is active", subject, c.Status)
	default:
		f.Message = fmt.Sprintf("%s is active, %d days left", subject, st.DaysLeft)
	}
	st.Severity = f.Severity
	dc.rep.Certificates = append(dc.rep.Certificates, st)
	dc.rep.add(f)
}

// usable reports whether Cloudflare can present c: active and unexpired.
func (dc *diag) usable(c cfapi.Certificate) bool {
	return c.Status == cfapi.StatusActive && !dc.expired(c)
}

func (dc *diag) associations(ctx context.Context, asked []string) error {
	dc.assocs = map[string]cfapi.HostnameStatus{}
	list, err := dc.d.Cloudflare.ListHostnameAssociations(ctx, dc.zone.ID, "all")
	switch {
	case errors.Is(err, cfapi.ErrListUnavailable):
		dc.rep.add(Finding{Severity: Info, Code: CodeAssocListFallback,
			Message: "Cloudflare does not serve the list of associations for this zone: only the hostnames named were checked",
			Remedy:  "name every hostname that uses per-hostname AOP"})
		for _, h := range asked {
			st, err := dc.d.Cloudflare.HostnameStatus(ctx, dc.zone.ID, h)
			if cfapi.IsKind(err, cfapi.KindNotFound) {
				continue
			}
			if err != nil {
				if err := dc.readFailed(ctx, "the association of "+h, err); err != nil {
					return err
				}
				continue
			}
			list = append(list, st)
		}
	case err != nil:
		if err := dc.readFailed(ctx, "hostname associations", err); err != nil {
			return err
		}
	}
	for _, a := range list {
		a.Hostname = strings.ToLower(a.Hostname)
		// A voided association reads back as enabled:false with a deleted
		// or deleting status (docs/cloudflare-api.md, "Associations"): it
		// no longer decides anything.
		if a.Enabled == nil || a.Status == cfapi.StatusDeleted || a.Status == cfapi.StatusPendingDeletion {
			continue
		}
		dc.assocs[a.Hostname] = a
	}
	set := map[string]bool{}
	for _, h := range asked {
		set[h] = true
	}
	for h := range dc.assocs {
		set[h] = true
	}
	for h := range set {
		dc.hostnames = append(dc.hostnames, h)
	}
	slices.Sort(dc.hostnames)
	for _, h := range dc.hostnames {
		if a, ok := dc.assocs[h]; ok && *a.Enabled {
			dc.judgeAssoc(a)
		}
	}
	dc.sslFinding()
	return nil
}

func (dc *diag) judgeAssoc(a cfapi.HostnameStatus) {
	c, known := dc.hostCerts[a.CertID]
	f := Finding{Subject: a.Hostname}
	switch {
	case !known || c.Status == cfapi.StatusDeleted || c.Status == cfapi.StatusPendingDeletion:
		f.Severity, f.Code = Error, CodeAssocCertDeleted
		f.Message = fmt.Sprintf("%s is associated with certificate %s, which is deleted: Cloudflare cannot present it for this hostname", a.Hostname, a.CertID)
		f.Remedy = "associate the hostname with an active hostname certificate, or void the association if the hostname should fall back to zone-level or global AOP"
	case dc.expired(c):
		f.Severity, f.Code = Error, CodeAssocCertExpired
		f.Message = fmt.Sprintf("%s is associated with certificate %s, which expired on %s", a.Hostname, a.CertID, c.ExpiresOn.UTC().Format(time.DateOnly))
		f.Remedy, f.Action = replaceText(cfapi.LevelHostname), ActionNewClientCert
	case c.Status == cfapi.StatusDeletionTimedOut || c.Status == cfapi.StatusDeploymentTimedOut:
		f.Severity, f.Code = Error, CodeAssocCertInactive
		f.Message = fmt.Sprintf("%s is associated with certificate %s, which is %s and cannot become active", a.Hostname, a.CertID, c.Status)
		f.Remedy = "upload the certificate again and associate the hostname with the new one"
	case a.Status == cfapi.StatusDeploymentTimedOut:
		f.Severity, f.Code = Error, CodeAssocTimedOut
		f.Message = fmt.Sprintf("the association of %s with certificate %s never deployed (deployment_timed_out)", a.Hostname, a.CertID)
		f.Remedy = "associate the hostname with the certificate again"
	case a.Status != cfapi.StatusActive || c.Status != cfapi.StatusActive:
		f.Severity, f.Code = Info, CodeAssocPending
		f.Message = fmt.Sprintf("the association of %s is %s (certificate %s): Cloudflare presents it once both are active", a.Hostname, a.Status, c.Status)
	default:
		return
	}
	dc.rep.add(f)
}

// precedence decides, for each hostname, the certificate Cloudflare
// presents: per-hostname beats zone-level, which beats global; an
// association with enabled:false sends none (docs/cloudflare-api.md, "AOP
// levels and precedence"). An association whose certificate cannot be
// presented is treated as absent, as cfsim's edge does: Cloudflare does not
// document what it does then, and the association finding already says so.
func (dc *diag) precedence(context.Context) error {
	// Cloudflare presents the most recently deployed zone-level
	// certificate; the API gives no deployment time, so the newest upload
	// stands for it.
	var zoneCert *cfapi.Certificate
	for i, c := range dc.zoneCerts {
		if dc.usable(c) && (zoneCert == nil || !c.UploadedOn.Before(zoneCert.UploadedOn)) {
			zoneCert = &dc.zoneCerts[i]
		}
	}
	levels := []string{}
	if dc.rep.GlobalAOP {
		levels = append(levels, "global on")
	}
	if dc.rep.ZoneAOP {
		levels = append(levels, "zone-level on")
		active := 0
		for _, c := range dc.zoneCerts {
			if dc.usable(c) {
				active++
			}
		}
		switch {
		case zoneCert == nil:
			dc.rep.add(Finding{Severity: Error, Code: CodeZoneNoActiveCert,
				Message: "zone-level AOP is on but no zone-level certificate is active and unexpired: Cloudflare has no certificate of yours to present",
				Remedy:  "upload a zone-level client certificate and wait until it is active", Action: ActionNewClientCert})
		case active > 1:
			dc.rep.add(Finding{Severity: Info, Code: CodeZoneSeveralCerts,
				Message: fmt.Sprintf("%d zone-level certificates are active: Cloudflare presents the most recently deployed one", active),
				Remedy:  "delete the older ones once the origin trusts the newest"})
		}
	}
	if len(dc.assocs) > 0 {
		levels = append(levels, fmt.Sprintf("per-hostname for %d hostnames", len(dc.assocs)))
	}
	if len(levels) == 0 {
		levels = append(levels, "no AOP level is on")
	}
	dc.rep.add(Finding{Severity: Info, Code: CodeLevels, Message: "AOP: " + strings.Join(levels, ", ")})

	if dc.rep.GlobalAOP {
		dc.globalCAFinding()
	}
	dc.byHost = map[string]HostState{}
	// Requests without a server name match no association.
	unnamed := HostState{Level: LevelNone}
	switch {
	case dc.rep.ZoneAOP && zoneCert != nil:
		unnamed.Level, unnamed.CertID, unnamed.Issuer = LevelZone, zoneCert.ID, issuerOf(*zoneCert)
	case dc.rep.GlobalAOP:
		unnamed.Level, unnamed.Issuer = LevelGlobal, dc.in.GlobalCA.Subject.String()
	}
	dc.byHost[""] = unnamed
	for _, h := range dc.hostnames {
		st := HostState{Hostname: h, Level: LevelNone}
		a, hasAssoc := dc.assocs[h]
		switch {
		case hasAssoc && !*a.Enabled:
			st.Level, st.Association = LevelHostnameDisabled, "disabled"
		case hasAssoc && dc.usable(dc.hostCerts[a.CertID]) && a.Status == cfapi.StatusActive:
			c := dc.hostCerts[a.CertID]
			st.Level, st.CertID, st.Association, st.Issuer = LevelHostname, c.ID, "enabled", issuerOf(c)
		}
		if hasAssoc && *a.Enabled && st.Level == LevelNone {
			st.Association = "broken"
			if c, ok := dc.hostCerts[a.CertID]; ok && (pending(a.Status) || a.Status == cfapi.StatusActive) && (pending(c.Status) || dc.usable(c)) {
				st.Association = "pending"
			}
		}
		if st.Level == LevelNone {
			st.Level, st.CertID, st.Issuer = unnamed.Level, unnamed.CertID, unnamed.Issuer
		}
		dc.byHost[h] = st
		dc.rep.Hostnames = append(dc.rep.Hostnames, st)
		dc.hostFinding(st)
	}
	return nil
}

// pending reports a status on its way to active.
func pending(s cfapi.Status) bool {
	return s == cfapi.StatusInitializing || s == cfapi.StatusPendingDeployment
}

func (dc *diag) hostFinding(st HostState) {
	f := Finding{Severity: Info, Code: CodeHostnameCert, Subject: st.Hostname}
	switch st.Level {
	case LevelHostname:
		f.Message = fmt.Sprintf("%s: Cloudflare presents per-hostname certificate %s", st.Hostname, st.CertID)
	case LevelZone:
		f.Message = fmt.Sprintf("%s: Cloudflare presents zone-level certificate %s", st.Hostname, st.CertID)
	case LevelGlobal:
		f.Message = st.Hostname + ": Cloudflare presents its global certificate, which proves only that a request came through Cloudflare, not through this zone"
	case LevelHostnameDisabled:
		f.Code = CodeHostnameDisabled
		f.Message = st.Hostname + ": the association is disabled, so Cloudflare presents no client certificate for it, even with zone-level or global AOP on"
	case LevelNone:
		if st.Association == "pending" {
			f.Message = st.Hostname + ": Cloudflare presents its per-hostname certificate once the association and the certificate are active"
			break
		}
		f.Severity, f.Code = Warn, CodeHostnameNoCert
		f.Message = st.Hostname + ": Cloudflare presents no client certificate for it"
		f.Remedy = "set up AOP for it (per-hostname or zone-level) before the origin requires a client certificate"
	}
	if !dc.sslOK && st.Level != LevelNone && st.Level != LevelHostnameDisabled {
		f.Message += ", except that the SSL/TLS encryption mode stops it"
	}
	dc.rep.add(f)
}

func issuerOf(c cfapi.Certificate) string {
	if x := parsePEM(c.PEM); x != nil {
		return x.Issuer.String()
	}
	return c.Issuer
}

func (dc *diag) globalCAFinding() {
	ca := dc.in.GlobalCA
	days := dc.daysLeft(ca.NotAfter)
	f := Finding{Severity: Info, Code: CodeGlobalCAExpiry,
		Message: fmt.Sprintf("Cloudflare's global AOP CA expires on %s, in %d days; origins trusting it must add its replacement before then",
			ca.NotAfter.UTC().Format(time.DateOnly), days)}
	switch {
	case days < 0:
		f.Severity = Error
		f.Message = fmt.Sprintf("Cloudflare's global AOP CA expired on %s", ca.NotAfter.UTC().Format(time.DateOnly))
		f.Remedy = "install Cloudflare's current origin-pull CA on the origin, or move to zone-level AOP with your own CA"
	case days < GlobalCAWarnDays:
		f.Severity = Warn
		f.Remedy = "add Cloudflare's replacement CA to the origin's CA bundle as soon as it is published, or move to zone-level AOP with your own CA"
	}
	dc.rep.add(f)
}

func (dc *diag) alerts(ctx context.Context) error {
	// An alert matters for the levels in use: zone-level on with a live
	// certificate, or any enabled association.
	needZone, needHost := false, false
	for _, c := range dc.zoneCerts {
		needZone = needZone || dc.rep.ZoneAOP && !c.Status.Gone()
	}
	for _, a := range dc.assocs {
		needHost = needHost || *a.Enabled
	}
	if !needZone && !needHost {
		return nil
	}
	if dc.zone.AccountID == "" {
		return nil
	}
	ps, err := dc.d.Cloudflare.ListAlertPolicies(ctx, dc.zone.AccountID)
	if err != nil {
		return dc.readFailed(ctx, "notification policies", err)
	}
	have := map[string]bool{}
	for _, p := range ps {
		if p.Enabled {
			have[p.AlertType] = true
		}
	}
	for _, t := range []string{cfapi.AlertZoneCertExpiry, cfapi.AlertHostnameCertExpiry} {
		if have[t] {
			dc.rep.AlertPolicies = append(dc.rep.AlertPolicies, t)
		}
	}
	check := func(need bool, alertType, level string) {
		if !need {
			return
		}
		if have[alertType] {
			dc.rep.add(Finding{Severity: OK, Code: CodeAlertsOK, Subject: alertType,
				Message: "an enabled notification policy warns before " + level + " certificates expire"})
			return
		}
		dc.rep.add(Finding{Severity: Warn, Code: CodeAlertsMissing, Subject: alertType,
			Message: "no enabled notification policy warns before " + level + " certificates expire: Cloudflare keeps presenting an expired certificate and the origin then refuses every request",
			Remedy:  "create a notification policy of type " + alertType + " (Notifications in the dashboard), e-mailing the team that owns the origin"})
	}
	check(needZone, cfapi.AlertZoneCertExpiry, "zone-level")
	check(needHost, cfapi.AlertHostnameCertExpiry, "per-hostname")
	return nil
}
