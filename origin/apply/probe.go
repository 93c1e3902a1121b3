package apply

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aopwizard/aopwizard/origin/cfca"
	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/pki"
)

// Target is one listener check after a reload.
type Target struct {
	Addr string // host:port to dial
	SNI  string // may be empty
	// CAs are the DER subjects the server must announce in its
	// CertificateRequest. Seeing them proves the reloaded config is live,
	// not the old one: a zero exit from reload only means the signal was
	// sent. Empty = a completed TLS handshake is enough.
	CAs [][]byte
	// Phase, when set, is also checked with a request without a client
	// certificate: refused in the enforce phase, served in the soft one.
	// Switching phases with the same CA changes no CA name, so only this
	// shows which config is live.
	Phase render.Phase
}

// Targets builds the listener checks for a spec: one per hostname, each
// expecting its CA bundle's subjects (hostname mode: the host's own
// bundle), or one without SNI when there are no hostnames.
func Targets(spec render.Spec) ([]Target, error) {
	listen := spec.Listen
	if listen == "" {
		listen = ":443"
	}
	addr := server.DialAddr(listen)
	if addr == "" {
		return nil, &server.Error{What: fmt.Sprintf("listen address %q", listen), Err: errors.New("not host:port or a port"),
			Kind: server.RemedyListen, BadInput: true, Remedy: "give one like 127.0.0.1:8443 or :443"}
	}
	if len(spec.Hosts) == 0 {
		cas, err := caSubjects(spec, spec.CAFile)
		return []Target{{Addr: addr, CAs: cas, Phase: spec.Phase}}, err
	}
	var ts []Target
	for _, h := range spec.Hosts {
		f := h.CAFile
		if f == "" {
			f = spec.CAFile
		}
		cas, err := caSubjects(spec, f)
		if err != nil {
			return nil, err
		}
		ts = append(ts, Target{Addr: addr, SNI: h.Name, CAs: cas, Phase: spec.Phase})
	}
	return ts, nil
}

// caSubjects reads the DER subjects of a CA bundle; global mode without a
// file uses Cloudflare's CA, which the render step writes. The file is
// read as render checked it (pki.ReadCABundle: bounded, CAs only).
func caSubjects(spec render.Spec, file string) ([][]byte, error) {
	var certs []*x509.Certificate
	var err error
	switch {
	case file == "" && spec.Mode == render.Global:
		certs, err = pki.ParseCABundle(cfca.PEM())
	case file == "":
		return nil, nil
	default:
		_, certs, err = pki.ReadCABundle(file)
	}
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.RawSubject
	}
	return out, nil
}

// handshake connects to t and reports whether the server asked for a
// client certificate and which CA names it announced.
func handshake(ctx context.Context, t Target) (asked bool, announced [][]byte, err error) {
	cfg := &tls.Config{
		ServerName: t.SNI,
		// The listener check is about which config is live, not about the
		// origin's certificate: that is the verifier's job.
		InsecureSkipVerify: true,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked, announced = true, cri.AcceptableCAs
			return &tls.Certificate{}, nil // send none
		},
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg, NetDialer: &net.Dialer{}}
	conn, err := d.DialContext(ctx, "tcp", t.Addr)
	if conn != nil {
		conn.Close()
	}
	return asked, announced, err
}

// probeOnce checks one target once.
func probeOnce(ctx context.Context, t Target) error {
	asked, announced, err := handshake(ctx, t)
	if len(t.CAs) == 0 {
		return err
	}
	if !asked {
		if err != nil {
			return err
		}
		return errors.New("the server did not ask for a client certificate: the new config is not live yet")
	}
	// An enforcing server may abort the handshake after its request (no
	// certificate sent); the request itself already shows the config.
	var missing []string
	for _, want := range t.CAs {
		found := false
		for _, got := range announced {
			if bytes.Equal(want, got) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, subjectString(want))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the server does not announce %s yet", strings.Join(missing, "; "))
	}
	return checkPhase(ctx, t)
}

// phaseAlertWait is how long the phase check waits for a TLS 1.3 alert
// before it sends its request. The listener is this host's own, so an
// alert comes within a millisecond; one that misses the wait still shows
// up as the answer to the request.
const phaseAlertWait = 250 * time.Millisecond

// checkPhase asks without a client certificate and compares the answer
// with t.Phase. Only answers the AOP config itself gives count as refusals
// (a TLS alert, nginx's "No required SSL certificate was sent"): an
// application's own 403 must not pass for the enforce phase.
func checkPhase(ctx context.Context, t Target) error {
	if t.Phase == "" {
		return nil
	}
	phase, r, err := observePhase(ctx, t)
	switch {
	case err != nil:
		return err
	case phase == "":
		return fmt.Errorf("request without a client certificate: %s", r)
	case phase != t.Phase:
		return fmt.Errorf("a request without a client certificate was %s: the %s config is not live yet", r, t.Phase)
	}
	return nil
}

// observePhase asks without a client certificate and says which phase the
// answer shows: refused is enforce, served is soft, anything else "".
func observePhase(ctx context.Context, t Target) (render.Phase, probe.Result, error) {
	r := probe.Probe(ctx, probe.Target{Addr: t.Addr, SNI: t.SNI, AlertWait: phaseAlertWait, Timeout: 3 * time.Second}, probe.NoCert())
	if err := ctx.Err(); err != nil {
		return "", r, err
	}
	switch {
	case r.Class == probe.Unreachable || r.Class == probe.Inconclusive:
		return "", r, nil
	case r.Class == probe.RejectedTLS || (r.Class == probe.RejectedHTTP && probe.NoCertPage(r.Detail)):
		return render.Enforce, r, nil
	}
	return render.Soft, r, nil
}

// baselineTimeout bounds how long Apply looks at the listener before a
// change: long enough for a reload someone else just sent to settle.
const baselineTimeout = 5 * time.Second

// baseline records what the listener shows before a change, so a restore
// can be verified against it: the targets that answered, expecting the CA
// names announced now and the phase a request without a certificate shows.
// A target counts once agreeRounds handshakes in a row announce the same
// names: a reload in flight answers with two configs for a moment.
func baseline(ctx context.Context, targets []Target) []Target {
	ctx, cancel := context.WithTimeout(ctx, baselineTimeout)
	defer cancel()
	var out []Target
	for _, t := range targets {
		var names [][]byte
		agree, asked := 0, false
		for agree < agreeRounds && ctx.Err() == nil {
			a, announced, err := handshake(ctx, t)
			if err != nil && !a {
				break // not answering: nothing to hold a restore to
			}
			if agree > 0 && slices.EqualFunc(names, announced, bytes.Equal) && a == asked {
				agree++
			} else {
				names, asked, agree = announced, a, 1
			}
		}
		if agree == 0 {
			continue
		}
		b := Target{Addr: t.Addr, SNI: t.SNI, CAs: names}
		if asked && len(names) > 0 {
			b.Phase, _, _ = observePhase(ctx, b)
		}
		out = append(out, b)
	}
	return out
}

func subjectString(der []byte) string {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		return fmt.Sprintf("%x", der)
	}
	var n pkix.Name
	n.FillFromRDNSequence(&seq)
	return n.String()
}

// reloadRetry is how long a reload may show no effect before it is sent
// again: HAProxy 2.6's master loses a USR2 that arrives while it is still
// starting or re-executing (measured: about one reload in ten when reloads
// follow each other closely), and a second one is harmless.
const reloadRetry = 2 * time.Second

// maxReloads bounds the reloads one check sends in all.
const maxReloads = 3

// agreeRounds is how many passing checks in a row each target needs when
// the server's processes cannot be watched (not Linux, /proc not readable,
// one process): one handshake can still reach a process of the old config.
// Once the old generation is seen gone, one pass is proof: every new
// connection then goes to a process of the new config.
const agreeRounds = 3

// reloadWatch tells when a reload has replaced the processes that accept
// connections on the targets' ports: after an nginx reload the old workers
// keep accepting for about 200 ms (measured), and one handshake with the
// new config proves nothing while they do.
type reloadWatch struct {
	ports  []int
	before server.Listeners
}

// watchReload records the listening processes before a reload; nil when
// they cannot show a reload (not Linux, not readable, a single process).
func watchReload(targets []Target) *reloadWatch {
	var ports []int
	for _, t := range targets {
		_, p, err := net.SplitHostPort(t.Addr)
		if n, perr := strconv.Atoi(p); err == nil && perr == nil && !slices.Contains(ports, n) {
			ports = append(ports, n)
		}
	}
	if len(ports) == 0 {
		return nil
	}
	l, err := server.ListenersOn(ports)
	if err != nil || !l.Generational() {
		return nil
	}
	return &reloadWatch{ports: ports, before: l}
}

// replaced returns nil once no worker of before listens any more and new
// ones do.
func (w *reloadWatch) replaced() error {
	if w == nil {
		return nil
	}
	now, err := server.ListenersOn(w.ports)
	if err != nil {
		return err
	}
	if stale := w.before.Stale(now); len(stale) > 0 {
		return fmt.Errorf("the server's processes %v from before the reload still accept connections", stale)
	}
	if len(now.Workers()) == 0 {
		return errors.New("no server process of the reloaded config listens yet")
	}
	return nil
}

// live polls every target until the old generation of the server's
// processes is gone (w) and each target passed its checks (agreeRounds in
// a row without w), reloading d again when nothing changed for reloadRetry, or fails
// after o.ProbeTimeout. The timeout ends the polling, never an attempt in
// flight: on a busy host the first attempt may take longer than it, and
// its answer is the reason to report.
func (o *Options) live(ctx context.Context, d *server.Driver, targets []Target, w *reloadWatch) error {
	deadline := time.Now().Add(o.ProbeTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	reloads, since := 1, time.Now()
	streak := make([]int, len(targets))
	probeErr := make([]error, len(targets))
	genErr := w.replaced()
	need := agreeRounds
	if w != nil {
		need = 1
	}
	for {
		settled := genErr == nil
		for i, t := range targets {
			if streak[i] >= need {
				continue
			}
			if err := probeOnce(ctx, t); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				streak[i], probeErr[i] = 0, err
				settled = false
				continue
			}
			probeErr[i] = nil
			if genErr == nil {
				streak[i]++
			}
			if streak[i] < need {
				settled = false
			}
		}
		if settled {
			return nil
		}
		failing := genErr != nil || slices.ContainsFunc(probeErr, func(e error) bool { return e != nil })
		if failing && time.Since(since) > reloadRetry && reloads < maxReloads && time.Now().Before(deadline) {
			o.note(Note, StepListener, "No sign of the reloaded config after %v (%v); reloading again", reloadRetry, firstErr(probeErr, genErr))
			if err := d.Reload(ctx, o.Runner); err != nil {
				return err
			}
			reloads, since = reloads+1, time.Now()
		}
		if !time.Now().Before(deadline) {
			for i, err := range probeErr {
				if err != nil {
					return fmt.Errorf("listener check on %s failed after %v: %w", where(targets[i]), o.ProbeTimeout, err)
				}
			}
			return fmt.Errorf("listener check on %s failed after %v: %w", where(targets[0]), o.ProbeTimeout, firstErr(probeErr, genErr))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if genErr != nil {
			genErr = w.replaced()
		}
	}
}

func firstErr(probeErrs []error, genErr error) error {
	for _, err := range probeErrs {
		if err != nil {
			return err
		}
	}
	if genErr != nil {
		return genErr
	}
	return fmt.Errorf("the checks did not pass %d times in a row", agreeRounds)
}

func where(t Target) string {
	if t.SNI != "" {
		return t.Addr + " (SNI " + t.SNI + ")"
	}
	return t.Addr
}
