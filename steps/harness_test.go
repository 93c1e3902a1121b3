package steps

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

const testZone = "example.test"

// lab is cfsim, the builtin origin on 127.0.0.1 and a state store.
type lab struct {
	t      testing.TB
	sim    *cfsim.Sim
	base   string
	api    *cfapi.SDKClient
	store  Store
	pki    *pkitest.Lab
	host   *BuiltinHost
	dir    string
	listen string
	events *eventLog
}

type eventLog struct {
	mu   sync.Mutex
	evs  []Event
	hook func(Event)
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
	if l.hook != nil {
		l.hook(e)
	}
}
func (l *eventLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.evs {
		fmt.Fprintf(&b, "%s %s %s\n", e.Step, e.Status, e.Message)
	}
	return b.String()
}

func freePort(t testing.TB) string { return servertest.FreeAddr(t) }

func newLab(t testing.TB, opts cfsim.Options) *lab {
	t.Helper()
	if opts.Zones == nil {
		opts.Zones = []string{testZone}
	}
	sim := cfsim.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	l := &lab{t: t, sim: sim, base: srv.URL + "/client/v4/", store: Store{Dir: filepath.Join(dir, "state")}, pki: pkitest.New(t), dir: dir,
		listen: freePort(t), events: &eventLog{}}
	l.host = &BuiltinHost{ConfigPath: filepath.Join(dir, "conf", "builtin-"+testZone+".json")}
	t.Cleanup(l.host.Close)
	l.api = l.client(cfapi.Config{})
	return l
}

// client is a cfapi client on the lab's cfsim with fast polls and retries.
func (l *lab) client(cfg cfapi.Config) *cfapi.SDKClient {
	cfg.Token, cfg.BaseURL = l.sim.Token(), l.base
	cfg.PollInterval, cfg.PollMaxInterval, cfg.BackoffBase = 5*time.Millisecond, 20*time.Millisecond, 5*time.Millisecond
	api, err := cfapi.New(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	return api
}

func (l *lab) inputs(mode Mode, hosts ...string) Inputs {
	return Inputs{
		Zone: testZone, Mode: mode, Hostnames: hosts, Server: "builtin", OriginConfig: OriginApply,
		CertDir: filepath.Join(l.dir, "certs"), KeyType: "ecdsa-p256", NoPassphrase: true, Enforce: true, AutoRevert: true,
		Origin: OriginInputs{
			Listen: l.listen, ServerCert: l.pki.Path(pkitest.ServerCert), ServerKey: l.pki.Path(pkitest.ServerKey),
			AccessLog: filepath.Join(l.dir, "access.log"), ConfDir: filepath.Join(l.dir, "conf"), Config: l.host.ConfigPath,
			TestCmd: BuiltinTestCmd, ReloadCmd: BuiltinReloadCmd, CheckpointDir: filepath.Join(l.dir, "state", "checkpoints"),
		},
	}
}

// fastProber is the real prober: it no longer waits for TLS 1.3 alerts
// that do not come (the request goes out at once, an alert arrives in
// place of the response).
var fastProber = RealProber

func (l *lab) env(r *Rollout, secrets Secrets) *Env {
	var runner server.Runner = l.host
	if r.Inputs.Server != "builtin" {
		runner = nil // the real commands
	}
	origin, err := NewServerOrigin(r.Inputs, runner, &bytes.Buffer{}, l.store.Dir)
	if err != nil {
		l.t.Fatal(err)
	}
	return &Env{Rollout: r, API: l.api, Origin: origin, Prober: fastProber, Secrets: secrets,
		GlobalCAPEM: l.sim.GlobalCAPEM(), ReportDir: filepath.Join(l.store.Dir, "reports"), Emit: l.events.add,
		PollInterval: 20 * time.Millisecond}
}

// start creates a rollout and runs it; hook may crash it.
func (l *lab) start(in Inputs, secrets Secrets, hook func(StepName, HookPoint) error) (string, Outcome, error) {
	l.t.Helper()
	if ps := in.Validate(); len(ps) > 0 {
		l.t.Fatalf("inputs: %v", ps)
	}
	r := NewRollout(NewID(in.Zone, time.Now()), in, time.Now().UTC())
	h, err := l.store.Create(r)
	if err != nil {
		l.t.Fatal(err)
	}
	defer h.Close()
	m := &Machine{Env: l.env(h.R, secrets), Saver: h, Hook: hook}
	out, err := m.Run(context.Background())
	return r.ID, out, err
}

// resume opens the rollout from its file, as a new process would.
func (l *lab) resume(id string, mod func(*Rollout)) (*Rollout, Outcome, error) {
	l.t.Helper()
	h, err := l.store.Open(id)
	if err != nil {
		l.t.Fatal(err)
	}
	defer h.Close()
	if mod != nil {
		mod(h.R)
	}
	m := &Machine{Env: l.env(h.R, Secrets{}), Saver: h}
	out, err := m.Run(context.Background())
	return h.R, out, err
}

func (l *lab) rollback(id string) (*Rollout, error) {
	l.t.Helper()
	return l.drive(id, func(m *Machine) error { return m.Rollback(context.Background()) })
}

// drive opens the rollout from its file, as a new process would, and runs
// f on a machine for it.
func (l *lab) drive(id string, f func(*Machine) error) (*Rollout, error) {
	l.t.Helper()
	h, err := l.store.Open(id)
	if err != nil {
		l.t.Fatal(err)
	}
	defer h.Close()
	return h.R, f(&Machine{Env: l.env(h.R, Secrets{}), Saver: h})
}

// uploads counts certificate upload requests in cfsim's log.
func (l *lab) uploads() int {
	n := 0
	for _, r := range l.sim.Requests() {
		if r.Method == "POST" && strings.Contains(r.Path, "origin_tls_client_auth") && !strings.Contains(r.Path, "settings") {
			n++
		}
	}
	return n
}
