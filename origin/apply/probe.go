package apply

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"os"
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
		return nil, fmt.Errorf("listen address %q is not host:port or a port; pass --listen like 127.0.0.1:8443 or :443", listen)
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
// file uses Cloudflare's CA, which the render step writes.
func caSubjects(spec render.Spec, file string) ([][]byte, error) {
	var pemData []byte
	switch {
	case file == "" && spec.Mode == render.Global:
		pemData = cfca.PEM()
	case file == "":
		return nil, nil
	default:
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
		pemData = b
	}
	certs, err := pki.ParseCertificates(pemData)
	if err != nil {
		return nil, fmt.Errorf("CA bundle %s: %w", file, err)
	}
	var out [][]byte
	for _, c := range certs {
		out = append(out, c.RawSubject)
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
	r := probe.Probe(ctx, probe.Target{Addr: t.Addr, SNI: t.SNI, AlertWait: phaseAlertWait, Timeout: 3 * time.Second}, probe.NoCert())
	if dl, ok := ctx.Deadline(); ctx.Err() != nil || (ok && !time.Now().Before(dl)) {
		// Cut short (the connection deadline may fire before ctx does):
		// live reports why the earlier attempts failed instead.
		return context.DeadlineExceeded
	}
	if r.Class == probe.Unreachable || r.Class == probe.Inconclusive {
		return fmt.Errorf("request without a client certificate: %s", r)
	}
	refused := r.Class == probe.RejectedTLS || (r.Class == probe.RejectedHTTP && probe.NoCertPage(r.Detail))
	switch {
	case t.Phase == render.Enforce && !refused:
		return fmt.Errorf("a request without a client certificate was %s: the enforce config is not live yet", r)
	case t.Phase == render.Soft && refused:
		return fmt.Errorf("a request without a client certificate was %s: the soft config is not live yet", r)
	}
	return nil
}

// baseline records what the listener shows before a change, so a restore
// can be verified against it: the targets that answered, expecting the CA
// names announced now.
func baseline(ctx context.Context, targets []Target) []Target {
	var out []Target
	for _, t := range targets {
		_, announced, err := handshake(ctx, t)
		if err == nil {
			out = append(out, Target{Addr: t.Addr, SNI: t.SNI, CAs: announced})
		}
	}
	return out
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
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

// live polls every target until all pass, reloading d again when nothing
// changed for reloadRetry, or fails after timeout.
func (o *Options) live(ctx context.Context, d *server.Driver, targets []Target) error {
	ctx, cancel := context.WithTimeout(ctx, o.ProbeTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	reloads, since := 1, time.Now()
	for _, t := range targets {
		// The attempt cut short by the deadline fails with a timeout that
		// hides why the earlier ones failed: report the last other error.
		var last error
		for {
			err := probeOnce(ctx, t)
			if err == nil {
				break
			}
			if last == nil || !isTimeout(err) {
				last = err
			}
			if time.Since(since) > reloadRetry && reloads < maxReloads && ctx.Err() == nil {
				o.logf("No sign of the reloaded config after %v (%v); reloading again", reloadRetry, err)
				if rerr := d.Reload(ctx, o.Runner); rerr != nil {
					return rerr
				}
				reloads, since = reloads+1, time.Now()
			}
			select {
			case <-ctx.Done():
				where := t.Addr
				if t.SNI != "" {
					where += " (SNI " + t.SNI + ")"
				}
				return fmt.Errorf("listener check on %s failed after %v: %w", where, o.ProbeTimeout, last)
			case <-tick.C:
			}
		}
	}
	return nil
}
