package probe

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/pki"
)

// Phase is the origin's AOP phase a verification expects: the rollout
// phase the origin's config is rendered for.
type Phase = render.Phase

// Phases: soft lets every request through (and logs the verify result);
// enforce lets only the right certificate through.
const (
	Soft    = render.Soft
	Enforce = render.Enforce
)

// ParsePhase accepts "soft" or "enforce", as render.ParsePhase does.
func ParsePhase(s string) (Phase, error) { return render.ParsePhase(s) }

// Checked is one result with its check against an expected phase.
type Checked struct {
	Result
	// Meets is nil when no phase was expected.
	Meets *bool  `json:"meets_expectation,omitempty"`
	Why   string `json:"expectation_detail,omitempty"`
}

// Verdict is a probe run judged against an expected phase (or none).
type Verdict struct {
	Expect  Phase     `json:"expect,omitempty"`
	Results []Checked `json:"results"`
	// Failed counts the probes that could not tell (unreachable,
	// inconclusive) or, with an expectation, did not meet it.
	Failed int `json:"-"`
}

// OK reports whether every probe answered and met the expectation.
func (v Verdict) OK() bool { return v.Failed == 0 }

// Summary says how many probes failed and what failing means here, e.g.
// "3 of 4 probes were unreachable, inconclusive or not what the soft
// phase requires"; empty when v is OK.
func (v Verdict) Summary() string {
	if v.OK() {
		return ""
	}
	what := "were unreachable or inconclusive"
	if v.Expect != "" {
		what = fmt.Sprintf("were unreachable, inconclusive or not what the %s phase requires", v.Expect)
	}
	return fmt.Sprintf("%d of %d probes %s", v.Failed, len(v.Results), what)
}

// Judge checks results against phase (empty: only that each probe got an
// answer).
func Judge(results []Result, phase Phase) Verdict {
	v := Verdict{Expect: phase, Results: make([]Checked, len(results))}
	for i, r := range results {
		v.Results[i].Result = r
		failed := r.Class == Unreachable || r.Class == Inconclusive
		if phase != "" {
			ok, why := Expect(phase, r)
			v.Results[i].Meets, v.Results[i].Why = &ok, why
			failed = failed || !ok
		}
		if failed {
			v.Failed++
		}
	}
	return v
}

// Expect reports whether r is what phase requires for r.Kind, and if not,
// what was expected. Soft: every case accepted (note: Apache's soft mode
// still rejects expired certificates, docs/origin-servers.md, "Soft phase
// on Apache", so an expired
// case fails there by design). Enforce: the right certificate accepted,
// every other case rejected at TLS or HTTP. Unreachable and inconclusive
// results never meet an expectation.
func Expect(phase Phase, r Result) (bool, string) {
	if r.Class == Unreachable || r.Class == Inconclusive {
		return false, fmt.Sprintf("%s: the probe could not tell, got %s", r.Case, r)
	}
	wantAccept := phase == Soft || r.Kind == KindRight
	switch {
	case phase != Soft && phase != Enforce:
		return false, fmt.Sprintf("phase %q is not known", phase)
	case r.Kind == "":
		return false, fmt.Sprintf("%s: case has no kind, so no expectation", r.Case)
	case wantAccept && r.Class == Accepted:
		return true, ""
	case wantAccept:
		return false, fmt.Sprintf("%s: %s phase needs it accepted, got %s", r.Case, phase, r)
	case r.Class == RejectedHTTP || r.Class == RejectedTLS:
		return true, ""
	}
	return false, fmt.Sprintf("%s: %s phase needs it rejected, got %s", r.Case, phase, r)
}

// NoCert is the case without a client certificate.
func NoCert() Case { return Case{Kind: KindNoCert} }

// RightCert presents cert, the certificate the origin must accept.
func RightCert(cert tls.Certificate) Case { return Case{Kind: KindRight, Cert: &cert} }

// WrongCA makes a client certificate from a fresh throwaway CA that no
// origin trusts (ECDSA P-256: fast, and every server accepts it).
func WrongCA() (Case, error) {
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "aopwizard probe throwaway CA", Organization: "aopwizard probe", KeyType: pki.ECDSAP256, Days: 1})
	if err != nil {
		return Case{}, fmt.Errorf("make throwaway CA: %w", err)
	}
	leaf, err := pki.IssueClient(ca, pki.ClientOptions{CommonName: "aopwizard probe wrong-CA client", KeyType: pki.ECDSAP256, Days: 1})
	if err != nil {
		return Case{}, fmt.Errorf("issue wrong-CA client certificate: %w", err)
	}
	cert := leaf.TLSCertificate()
	return Case{Kind: KindWrongCA, Cert: &cert}, nil
}

// Expired issues, from the origin's trusted CA, a client certificate that
// expired yesterday. It needs the CA's key, which only the operator has
// (the wizard's own CA, or one the operator points to).
func Expired(ca *pki.Pair) (Case, error) {
	now := time.Now()
	leaf, err := pki.IssueClient(ca, pki.ClientOptions{
		CommonName: "aopwizard probe expired client", KeyType: pki.ECDSAP256,
		NotBefore: now.Add(-31 * 24 * time.Hour), NotAfter: now.Add(-24 * time.Hour),
	})
	if err != nil {
		return Case{}, fmt.Errorf("issue expired client certificate: %w", err)
	}
	cert := leaf.TLSCertificate()
	return Case{Kind: KindExpired, Cert: &cert}, nil
}
