// Package demo builds the self-contained world `aopwizard demo` runs in: an
// in-process Cloudflare simulator (API and edge, cfapi/cfsim) holding a demo
// zone, an origin on 127.0.0.1 (the builtin one, or a real nginx started
// from a standalone config), and every file in one temporary directory. The
// headless demo (Run) and the interactive wizard drive the very same steps
// against it; nothing reaches a real Cloudflare account or leaves
// 127.0.0.1, and no credential is read from the environment: the token is
// the simulator's own.
package demo

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/steps"
)

// Zone is the demo's zone: .example is reserved (RFC 2606), so it can never
// be someone's real domain.
const Zone = "demo.example"

// Hostnames are the demo zone's hostnames the rollout covers and the edge
// proof requests.
var Hostnames = []string{"www." + Zone, "app." + Zone}

// Banner says what the demo is; front ends show it first and in the summary.
const Banner = "DEMO: Cloudflare is simulated in this process; nothing touches a real Cloudflare account, and nothing leaves 127.0.0.1."

// AlertsEmail receives the (simulated) certificate expiry notification.
const AlertsEmail = "ops@" + Zone

// KeyType is the demo CA's key type: ECDSA P-256 generates in milliseconds
// (RSA-4096, the product's default, takes seconds). The CA key is written
// without a passphrase: it is a throwaway in the demo's directory.
const KeyType = "ecdsa-p256"

// Origin is the server the demo's origin runs.
type Origin string

// Origins the demo can run.
const (
	OriginBuiltin Origin = "builtin"
	OriginNginx   Origin = "nginx"
)

// Deployment pacing: a certificate or association turns active after
// deployReads polls spaced pollEvery apart, about a second, so progress is
// visible without making anyone wait.
const (
	deployReads = 3
	pollEvery   = 500 * time.Millisecond
)

// Options configure Start.
type Options struct {
	// Mode is the rollout's mode; default zone.
	Mode steps.Mode
	// Origin is builtin (default) or nginx (a real nginx, when installed).
	Origin Origin
	// TempDir is where the demo's directory is made; default os.TempDir().
	TempDir string
	// Keep leaves the directory in place on Close.
	Keep bool
	// Log receives origin/apply's progress lines; nil discards them.
	Log io.Writer
}

// ParseOrigin checks an origin name.
func ParseOrigin(s string) (Origin, error) {
	switch o := Origin(s); o {
	case "":
		return OriginBuiltin, nil
	case OriginBuiltin, OriginNginx:
		return o, nil
	}
	return "", fmt.Errorf("origin %q is neither builtin (inside aopwizard) nor nginx (a real nginx, when installed)", s)
}

// World is a running demo: the simulator, its edge, the origin and the
// directory holding every file. Close stops them all.
type World struct {
	// Dir holds everything the demo writes.
	Dir string
	// StateDir is where the demo's rollout is saved.
	StateDir string
	Mode     steps.Mode
	Origin   Origin
	Sim      *cfsim.Server
	Edge     *cfsim.Edge
	// Builtin is the builtin origin (nil with nginx).
	Builtin *steps.BuiltinHost
	Keep    bool

	log       io.Writer
	nginx     *nginxOrigin
	api       *cfapi.SDKClient
	transport *http.Transport
	edge      *steps.HTTPEdge
	inputs    steps.Inputs
}

// Start builds the world: the directory, the origin's own TLS certificate,
// the simulator (SSL/TLS mode Full (strict), as the product recommends) with
// its edge in front of the origin, and the origin itself (nginx serves
// nothing until the rollout writes its site). On error everything started
// is stopped and the directory removed.
func Start(ctx context.Context, o Options) (w *World, err error) {
	if o.Mode == "" {
		o.Mode = steps.ModeZone
	}
	if _, err := steps.ParseMode(string(o.Mode)); err != nil {
		return nil, err
	}
	if o.Origin, err = ParseOrigin(string(o.Origin)); err != nil {
		return nil, err
	}
	if o.Origin == OriginNginx {
		if err := nginxInstalled(); err != nil {
			return nil, err
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	dir, err := os.MkdirTemp(o.TempDir, "aopwizard-demo-")
	if err != nil {
		return nil, fmt.Errorf("create the demo's directory: %w", err)
	}
	w = &World{Dir: dir, StateDir: filepath.Join(dir, "state"), Mode: o.Mode, Origin: o.Origin, Keep: o.Keep, log: o.Log}
	defer func() {
		if err != nil {
			w.Keep = false
			_ = w.Close()
			w = nil
		}
	}()
	listen, err := server.FreeLoopbackAddr()
	if err != nil {
		return w, fmt.Errorf("find a free port for the demo origin: %w", err)
	}
	srvCA, srvTLS, err := w.originCertificate()
	if err != nil {
		return w, err
	}
	originCAs := x509.NewCertPool()
	originCAs.AddCert(srvCA)
	srvCert, srvKey := srvTLS.cert, srvTLS.key
	w.Sim, err = cfsim.Start(ctx, cfsim.ServeOptions{
		Options: cfsim.Options{Zones: []string{Zone}, SSLMode: cfapi.SSLStrict, DeployAfter: deployReads},
		Edge:    &cfsim.EdgeOptions{Zone: Zone, Origin: listen, OriginRootCAs: originCAs},
	})
	if err != nil {
		return w, fmt.Errorf("start the simulator: %w", err)
	}
	w.Edge = w.Sim.Edge
	edgeCA := filepath.Join(dir, "edge-ca.pem")
	if err := renameio.WriteFile(edgeCA, w.Edge.CACertPEM(), 0o600); err != nil {
		return w, fmt.Errorf("write the edge's CA: %w", err)
	}
	edgeRoots := x509.NewCertPool()
	edgeRoots.AppendCertsFromPEM(w.Edge.CACertPEM())
	w.edge = &steps.HTTPEdge{Addr: w.Edge.Addr(), RootCAs: edgeRoots}
	// The demo owns the client's transport so that Close can drop its
	// connections first: the simulator's graceful stop waits for a
	// connection the transport dialled but never used as long as its own
	// deadline, and would fail.
	w.transport = http.DefaultTransport.(*http.Transport).Clone()
	w.transport.MaxIdleConnsPerHost = 16
	w.api, err = cfapi.New(cfapi.Config{Token: w.Sim.Sim.Token(), BaseURL: w.Sim.APIURL, HTTPClient: &http.Client{Transport: w.transport},
		PollInterval: pollEvery, PollMaxInterval: pollEvery})
	if err != nil {
		return w, err
	}

	in := steps.Inputs{
		Zone: Zone, Mode: o.Mode, Hostnames: append([]string(nil), Hostnames...), Server: string(o.Origin),
		OriginConfig: steps.OriginApply, CertDir: filepath.Join(dir, "certs"), KeyType: KeyType, NoPassphrase: true,
		Enforce: true, AutoRevert: true,
		Origin: steps.OriginInputs{Listen: listen, ServerCert: srvCert, ServerKey: srvKey,
			AccessLog: filepath.Join(dir, "access.log"), CheckpointDir: filepath.Join(w.StateDir, "checkpoints")},
		Edge: steps.EdgeInputs{Addr: w.Edge.Addr(), CAFile: edgeCA},
	}
	if o.Mode != steps.ModeGlobal {
		// Cloudflare has no expiry alert for its own global certificate.
		in.AlertsEmail = AlertsEmail
	}
	off := false
	in.Origin.Systemd = &off
	switch o.Origin {
	case OriginBuiltin:
		conf := filepath.Join(dir, "conf")
		w.Builtin = &steps.BuiltinHost{ConfigPath: filepath.Join(conf, "builtin-"+Zone+".json")}
		in.Origin.ConfDir, in.Origin.Config = conf, w.Builtin.ConfigPath
		in.Origin.TestCmd, in.Origin.ReloadCmd = steps.BuiltinTestCmd, steps.BuiltinReloadCmd
	case OriginNginx:
		if w.nginx, err = startNginx(ctx, filepath.Join(dir, "nginx"), listen, srvTLS, in.Origin.AccessLog); err != nil {
			return w, err
		}
		in.Origin.ConfDir, in.Origin.Config, in.Origin.ErrorLog = w.nginx.dir, w.nginx.driver.ConfigPath, w.nginx.driver.ErrorLog
	}
	if ps := in.Validate(); len(ps) > 0 {
		return w, fmt.Errorf("the demo's own inputs are invalid: %w", errors.Join(problems(ps)...))
	}
	w.inputs = in
	return w, nil
}

func problems(ps []steps.Problem) []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// Inputs are the rollout's inputs, complete and validated: the interactive
// wizard shows them as its defaults, the headless demo runs them as they
// are.
func (w *World) Inputs() steps.Inputs {
	in := w.inputs
	in.Hostnames = append([]string(nil), in.Hostnames...)
	return in
}

// Env wires a rollout of this world to the simulator, the origin, the
// probes and the edge. emit receives the steps' events (nil drops them).
func (w *World) Env(r *steps.Rollout, emit func(steps.Event)) (*steps.Env, error) {
	var runner server.Runner
	if w.Builtin != nil {
		runner = w.Builtin
	}
	origin, err := steps.NewServerOrigin(r.Inputs, runner, w.log, w.StateDir)
	if err != nil {
		return nil, err
	}
	return &steps.Env{Rollout: r, API: w.api, Origin: origin, Prober: steps.RealProber, Edge: w.edge,
		GlobalCAPEM: w.Sim.Sim.GlobalCAPEM(), ReportDir: filepath.Join(w.StateDir, "reports"), Emit: emit}, nil
}

// NewRollout creates a rollout of in (normally Inputs, perhaps changed by
// the wizard) in the demo's state dir and wires it; the caller drives it
// with a steps.Machine and closes the handle.
func (w *World) NewRollout(in steps.Inputs, emit func(steps.Event)) (*steps.Handle, *steps.Env, error) {
	if ps := in.Validate(); len(ps) > 0 {
		return nil, nil, errors.Join(problems(ps)...)
	}
	now := time.Now()
	h, err := steps.Store{Dir: w.StateDir}.Create(steps.NewRollout(steps.NewID(in.Zone, now), in, now.UTC()))
	if err != nil {
		return nil, nil, err
	}
	env, err := w.Env(h.R, emit)
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, env, nil
}

// Run is the headless demo: the whole rollout with Inputs, enforce
// included, to "enforced, verified through the edge". It returns the rollout as it ended.
// A cancelled ctx stops it with a *steps.Interrupted.
func (w *World) Run(ctx context.Context, emit func(steps.Event)) (*steps.Rollout, error) {
	h, env, err := w.NewRollout(w.Inputs(), emit)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	out, err := (&steps.Machine{Env: env, Saver: h}).Run(ctx)
	if err != nil {
		return h.R, err
	}
	if !out.Finished {
		return h.R, fmt.Errorf("the demo rollout stopped at %s (%s)", out.Waiting, h.R.Outcome)
	}
	return h.R, nil
}

// Close stops the origin and the simulator and removes the directory
// unless Keep. It is safe to call more than once.
func (w *World) Close() error {
	var errs []error
	if w.Builtin != nil {
		w.Builtin.Close()
	}
	if w.nginx != nil {
		errs = append(errs, w.nginx.stop())
		w.nginx = nil
	}
	if w.transport != nil {
		w.transport.CloseIdleConnections()
	}
	if w.Sim != nil {
		errs = append(errs, w.Sim.Close())
		w.Sim = nil
	}
	if !w.Keep && w.Dir != "" {
		if err := os.RemoveAll(w.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove the demo's directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// originTLS are the files of the origin's own TLS certificate.
type originTLS struct{ cert, key, ca string }

// originCertificate makes the origin's own TLS certificate for the zone and
// its subdomains, from a CA the simulated edge trusts (Full (strict)).
func (w *World) originCertificate() (*x509.Certificate, originTLS, error) {
	var files originTLS
	kt, err := pki.ParseKeyType(KeyType)
	if err != nil {
		return nil, files, err
	}
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "aopwizard demo origin CA", KeyType: kt, Days: 2})
	if err != nil {
		return nil, files, fmt.Errorf("generate the demo origin's CA: %w", err)
	}
	leaf, err := pki.IssueServer(ca, pki.ServerOptions{CommonName: Zone, DNSNames: []string{Zone, "*." + Zone},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyType: kt, Days: 1})
	if err != nil {
		return nil, files, fmt.Errorf("issue the demo origin's certificate: %w", err)
	}
	keyPEM, err := leaf.KeyPEM()
	if err != nil {
		return nil, files, err
	}
	dir := filepath.Join(w.Dir, "origin-tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, files, err
	}
	files = originTLS{cert: filepath.Join(dir, "origin.pem"), key: filepath.Join(dir, "origin.key"), ca: filepath.Join(dir, "origin-ca.pem")}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{files.cert, leaf.CertPEM(), 0o644}, {files.key, keyPEM, 0o600}, {files.ca, ca.CertPEM(), 0o644}} {
		if err := renameio.WriteFile(f.path, f.data, f.mode); err != nil {
			return nil, files, fmt.Errorf("write the demo origin's certificate: %w", err)
		}
	}
	return ca.Cert, files, nil
}
