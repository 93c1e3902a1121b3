package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/aopwizard/aopwizard/origin/evidence"
	"github.com/aopwizard/aopwizard/origin/probe"
)

// probeConcurrency bounds the probes in flight: a handful of origins
// finish at once without flooding one of them.
const probeConcurrency = 8

// origins runs the probe matrix against each origin and server name and
// judges it against what Cloudflare presents for that name.
func (dc *diag) origins(ctx context.Context) error {
	if len(dc.in.Origins) == 0 {
		return nil
	}
	targets, err := probe.Targets(dc.in.Origins, dc.hostnames, probe.Target{Timeout: dc.in.ProbeTimeout})
	if err != nil {
		return err
	}
	cases, err := probe.StandardCases(probe.CaseOptions{Right: dc.in.ClientCert})
	if err != nil {
		return fmt.Errorf("prepare the probe certificates: %w", err)
	}
	results, err := dc.d.Probe(ctx, targets, cases, probe.RunOptions{Concurrency: probeConcurrency})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, t := range targets {
		rs := results[i*len(cases) : (i+1)*len(cases)]
		dc.judgeOrigin(t, rs)
	}
	return nil
}

func (dc *diag) judgeOrigin(t probe.Target, rs []probe.Result) {
	st := OriginState{Addr: t.Addr, SNI: t.SNI, Results: rs}
	subject := t.Addr
	if t.SNI != "" {
		subject += " (" + t.SNI + ")"
	}
	answered, refuses, accepts := 0, 0, 0
	var right *probe.Result
	var announced []string
	for i, r := range rs {
		switch r.Class {
		case probe.Accepted:
			answered++
		case probe.RejectedHTTP, probe.RejectedTLS:
			answered++
		}
		if len(r.AcceptableCAs) > 0 {
			announced = r.AcceptableCAs
		}
		switch r.Kind {
		case probe.KindNoCert, probe.KindWrongCA:
			if r.Class == probe.Accepted {
				accepts++
			} else if r.Class == probe.RejectedHTTP || r.Class == probe.RejectedTLS {
				refuses++
			}
		case probe.KindRight:
			right = &rs[i]
		}
	}
	defer func() { dc.rep.Origins = append(dc.rep.Origins, st) }()
	if answered == 0 {
		dc.rep.add(Finding{Severity: Error, Code: CodeOriginUnreachable, Subject: subject,
			Message: fmt.Sprintf("%s did not answer: %s", subject, rs[0].String()),
			Remedy:  "check the origin's address and port, and that this machine may connect to it", Action: ActionProbe})
		return
	}
	host := dc.byHost[t.SNI]
	presents := host.Level == LevelHostname || host.Level == LevelZone || host.Level == LevelGlobal
	if !dc.sslOK {
		presents = false
	}
	enforcing := accepts == 0 && refuses > 0
	st.Enforcing = &enforcing
	switch {
	case enforcing && !presents:
		dc.rep.add(Finding{Severity: Error, Code: CodeOriginNoAOP, Subject: subject,
			Message: fmt.Sprintf("%s requires a client certificate, but Cloudflare presents none for %s: every request through Cloudflare is refused", subject, nameOr(t.SNI)),
			Remedy:  "switch the origin back to the soft phase until AOP is on at Cloudflare for this hostname", Action: ActionOriginSoft})
	case enforcing:
		dc.rep.add(Finding{Severity: OK, Code: CodeOriginEnforces, Subject: subject,
			Message: subject + " refuses requests without a valid client certificate"})
	default:
		f := Finding{Severity: Warn, Code: CodeOriginNotEnforcing, Subject: subject,
			Message: subject + " accepts requests without a valid client certificate: anyone who finds its address bypasses Cloudflare"}
		if presents {
			f.Remedy = "once the evidence log shows Cloudflare's requests verifying, switch the origin to the enforce phase"
			f.Action = ActionOriginEnforce
		} else {
			f.Remedy = "set up AOP at Cloudflare for this hostname, then configure the origin to require its certificate"
		}
		dc.rep.add(f)
	}
	if right != nil && enforcing && right.Class != probe.Accepted && right.Class != probe.Unreachable && right.Class != probe.Inconclusive {
		dc.rep.add(Finding{Severity: Error, Code: CodeOriginRejectsRight, Subject: subject,
			Message: fmt.Sprintf("%s refuses the client certificate Cloudflare presents: %s", subject, right.String()),
			Remedy:  "make the origin trust the CA that issued the uploaded certificate (the CA bundle for this hostname)", Action: ActionOriginSoft})
	}
	// The origin names the CAs it trusts in its certificate request; when
	// the issuer of what Cloudflare presents is not among them, the
	// handshake through Cloudflare fails once the origin enforces.
	if presents && host.Issuer != "" && len(announced) > 0 && !slices.Contains(announced, host.Issuer) {
		sev := Warn
		if enforcing {
			sev = Error
		}
		what := "the certificate Cloudflare presents for " + nameOr(t.SNI) + " (level " + string(host.Level) + ")"
		dc.rep.add(Finding{Severity: sev, Code: CodeOriginWrongCA, Subject: subject,
			Message: fmt.Sprintf("%s trusts only %s, but %s is issued by %s", subject, strings.Join(announced, "; "), what, host.Issuer),
			Remedy:  "give the origin the CA bundle of the level that applies (for global AOP, Cloudflare's origin-pull CA), or change the level at Cloudflare", Action: ActionOriginSoft})
	}
}

func nameOr(sni string) string {
	if sni == "" {
		return "requests without a server name"
	}
	return sni
}

// evidence reads the evidence logs in one pass: the evidence package's
// report (enforce impact) and the count of Cloudflare's requests, which
// the report does not keep.
func (dc *diag) evidence(ctx context.Context) error {
	if len(dc.in.EvidenceLogs) == 0 {
		return nil
	}
	col := evidence.NewCollector(evidence.Options{})
	st := &EvidenceState{Files: []string{}}
	for _, path := range dc.in.EvidenceLogs {
		if err := readEvidence(ctx, col, st, path); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ie *InputError
			if errors.As(err, &ie) {
				return err
			}
			return dc.readFailed(ctx, "the evidence log "+path, err)
		}
		st.Files = append(st.Files, path)
	}
	rep := col.Report()
	st.Impact = rep.Impact
	dc.rep.Evidence = st
	switch {
	case st.Cloudflare == 0:
		dc.rep.add(Finding{Severity: Warn, Code: CodeEvidenceNoRays,
			Message: "the evidence log holds no request through Cloudflare (none carries a CF-Ray): nothing proves yet that Cloudflare's certificate verifies",
			Remedy:  "send a few requests through Cloudflare to each hostname, then read the log again", Action: ActionEvidence})
	case st.Impact.Cloudflare > 0:
		dc.rep.add(Finding{Severity: Error, Code: CodeEvidenceFailures,
			Message: fmt.Sprintf("%d of %d requests through Cloudflare (%s) carried no valid client certificate: enforcing would refuse them",
				st.Impact.Cloudflare, st.Cloudflare, percent(st.Verified, st.Cloudflare)+" verified"),
			Remedy: "check which hostnames fail in the evidence report and fix the level or the origin's CA bundle before enforcing", Action: ActionEvidence})
	default:
		dc.rep.add(Finding{Severity: OK, Code: CodeEvidenceVerified,
			Message: fmt.Sprintf("all %d requests through Cloudflare carried a valid client certificate", st.Cloudflare)})
	}
	if st.Impact.Direct > 0 {
		dc.rep.add(Finding{Severity: Info, Code: CodeEvidenceDirect,
			Message: fmt.Sprintf("%d of %d direct requests (no CF-Ray) carried no valid client certificate: enforcing refuses them, as intended, unless they are your own monitoring",
				st.Impact.Direct, st.Direct)})
	}
	return nil
}

func percent(n, of int) string {
	if of == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// readEvidence feeds one log to the collector and counts requests by
// whether they came through Cloudflare.
func readEvidence(ctx context.Context, col *evidence.Collector, st *EvidenceState, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &InputError{Input: InputEvidenceLog, Reason: "cannot open " + path, Err: err}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line := sc.Text()
		col.Add(path, n, line)
		e, err := evidence.ParseLine(line)
		if err != nil {
			continue
		}
		if e.Ray == "" {
			st.Direct++
			continue
		}
		st.Cloudflare++
		if e.Verify == evidence.VerifySuccess {
			st.Verified++
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
