package ui

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/aopwizard/aopwizard/origin/sites"
)

// testNow is the fixed clock of every test.
var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// fakeFlow is an in-memory rollout: every step succeeds (unless told to
// fail) and fills in what the real step would report.
type fakeFlow struct {
	mu       sync.Mutex
	rollouts []Summary
	sum      Summary
	inputs   []Inputs
	secrets  []Secrets
	ran      []string
	saves    int
	// fail makes the named step fail once with that error.
	fail map[string]error
	// hold, when set, makes RunStep of that step wait until release closes.
	hold    string
	release chan struct{}
	parked  []tea.Cmd
	listens int
	saveErr error
	started chan string
	// sites are the origin server's sites this machine has (nil: none).
	sites *sites.Config
}

// OriginSites implements SiteReader.
func (f *fakeFlow) OriginSites(_ context.Context, in Inputs) (*sites.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sites == nil || string(f.sites.Server) != in.Server {
		return nil, nil
	}
	return f.sites, nil
}

func newFakeFlow() *fakeFlow {
	return &fakeFlow{fail: map[string]error{}, release: make(chan struct{}), started: make(chan string, 64)}
}

func stepsFor(mode string, alerts ...bool) []StepState {
	names := []string{StepConnect, StepPlan, StepCertificate}
	if mode != ModeGlobal {
		names = append(names, StepUpload)
	}
	names = append(names, StepOrigin, StepEnable, StepVerify, StepEnforce)
	if len(alerts) > 0 && alerts[0] {
		names = append(names, StepAlerts)
	}
	names = append(names, StepDone)
	var out []StepState
	for _, n := range names {
		out = append(out, StepState{Name: n, Status: StatusPending})
	}
	return out
}

func (f *fakeFlow) Rollouts(context.Context) ([]Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Summary
	for _, r := range f.rollouts {
		out = append(out, clone(r))
	}
	return out, nil
}

func (f *fakeFlow) Resume(_ context.Context, id string) (Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rollouts {
		if r.ID == id {
			f.sum = clone(r)
			return clone(r), nil
		}
	}
	return Summary{}, fmt.Errorf("no rollout %s", id)
}

func (f *fakeFlow) Start(context.Context) (Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sum = Summary{ID: "r1", Created: testNow, Updated: testNow, Steps: stepsFor(ModeZone)}
	return clone(f.sum), nil
}

func (f *fakeFlow) SetInputs(_ context.Context, in Inputs, sec Secrets) (Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	f.secrets = append(f.secrets, sec)
	if in.Mode != "" && (in.Mode != f.sum.Inputs.Mode || in.AlertsEmail != f.sum.Inputs.AlertsEmail) {
		old := f.sum.Steps
		f.sum.Steps = stepsFor(in.Mode, in.AlertsEmail != "")
		for _, o := range old {
			if st := f.sum.Step(o.Name); st != nil {
				*st = o
			}
		}
	}
	f.sum.Inputs = in
	return clone(f.sum), nil
}

func (f *fakeFlow) RunStep(ctx context.Context, step string, emit func(Event)) (Summary, error) {
	f.mu.Lock()
	f.ran = append(f.ran, step)
	hold := f.hold == step
	f.mu.Unlock()
	select {
	case f.started <- step:
	default:
	}
	emit(Event{Step: step, Message: step + " started"})
	if hold && step == StepVerify {
		emit(Event{Step: step, Message: "first cell", Fields: map[string]string{"origin": "192.0.2.7:443", "hostname": "live.example.com",
			"case": "no-cert", "expected": "accepted", "observed": "refused", "result": "FAIL"}})
	}
	if hold {
		select {
		case <-f.release:
		case <-ctx.Done():
			return f.snapshot(), ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.sum.Step(step)
	if st == nil {
		return clone(f.sum), fmt.Errorf("the rollout has no step %s", step)
	}
	if err := f.fail[step]; err != nil {
		delete(f.fail, step)
		st.Status, st.Error, st.Remedy = StatusFailed, err.Error(), "check the "+step+" inputs and retry"
		if step == StepVerify {
			f.sum.Matrix = []Check{{Origin: "127.0.0.1:8443", Hostname: "www.example.com", Case: "without cert",
				Expected: "handshake refused", Observed: "200", OK: false}}
		}
		return clone(f.sum), err
	}
	st.Status, st.Error, st.Remedy = StatusDone, "", ""
	s := &f.sum
	switch step {
	case StepConnect:
		s.SSLMode = "full"
		if !s.Inputs.SetSSLStrict {
			s.SSLFix = "Full without strict does not check the origin's certificate; set Full (strict)."
		} else {
			s.SSLMode, s.SSLFix = "strict", ""
		}
	case StepPlan:
		// As the plan step writes it (steps.PlanSummary).
		s.Plan = []string{"Rollout r1: zone mode for zone " + s.Inputs.Zone, "In Cloudflare:",
			"  - upload 1 new zone-level client certificate(s)",
			"  - turn zone-level AOP on: the certificate is presented for every proxied hostname of the zone",
			"On the origin:", "  - write a CA and client certificate to /state/certs/" + s.Inputs.Zone + " (CA key encrypted)",
			"  - nginx config, soft phase first (every request still served, the verification logged): aopwizard writes it (checkpointed, undone by rollback)",
			"    in place, in the operator's own site that serves the hostnames",
			"  - then the enforce phase: requests without the right client certificate are refused",
			"Verified by probing 203.0.113.10:443 directly for www." + s.Inputs.Zone}
		s.Origin = OriginPlan{Server: "nginx", Path: "/etc/nginx/conf.d/aop.conf",
			Config: fakeNginxSoft, Commands: []string{"nginx -t", "nginx -s reload"}}
		s.Impact = []string{"clients reaching the origin directly get a TLS handshake failure", "health checks from outside Cloudflare fail"}
	case StepCertificate:
		s.Cert = &Cert{Subject: "CN=" + s.Inputs.Zone, Issuer: "CN=aopwizard CA", Serial: "01:23:45",
			NotBefore: testNow, NotAfter: testNow.AddDate(1, 0, 0), Fingerprint: fakeFingerprint}
	case StepUpload:
		emit(Event{Step: step, Message: "waiting for status active", Fields: map[string]string{"status": "pending_deployment"}})
		s.Cert.ID, s.Cert.Status = "cert-123", "active"
	case StepOrigin:
		emit(Event{Step: step, Message: "nginx -t", Fields: map[string]string{"output": "nginx: configuration file test is successful"}})
	case StepAlerts:
		emit(Event{Step: step, Status: "info", Message: "expiry notifications go to " + s.Inputs.AlertsEmail})
	case StepVerify, StepEnforce:
		s.Matrix = nil
		for _, c := range []struct {
			cs, exp, obs string
		}{{"with CF cert", "200", "200"}, {"without cert", "200 (soft)", "200"}} {
			emit(Event{Step: step, Message: "checked " + c.cs, Fields: map[string]string{"origin": "127.0.0.1:8443", "hostname": "www." + s.Inputs.Zone, "case": c.cs, "expected": c.exp, "observed": c.obs, "result": "ok"}})
			s.Matrix = append(s.Matrix, Check{Origin: "127.0.0.1:8443", Hostname: "www." + s.Inputs.Zone, Case: c.cs, Expected: c.exp, Observed: c.obs, OK: true})
		}
		s.Evidence = []string{"zone AOP: on", "edge proof: ray 8c2f… verified at the origin"}
		if step == StepEnforce && !s.Inputs.Enforce {
			st.Status = StatusSkipped
		}
	case StepDone:
		s.Report = "/state/r1/report.md"
		s.Outcome = "enforced, verified through the edge"
	}
	return clone(f.sum), nil
}

func (f *fakeFlow) snapshot() Summary {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clone(f.sum)
}

// clone copies what a Summary shares with the fake's state: a Flow's
// summaries are the caller's to keep.
func clone(s Summary) Summary {
	s.Steps = append([]StepState(nil), s.Steps...)
	s.Matrix = append([]Check(nil), s.Matrix...)
	if s.Cert != nil {
		c := *s.Cert
		s.Cert = &c
	}
	return s
}

func (f *fakeFlow) saveCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.saves
}

// Save keeps the rollout in the list Rollouts returns, as the state
// directory would.
func (f *fakeFlow) Save(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves++
	if f.saveErr != nil {
		return f.saveErr
	}
	if f.sum.ID == "" {
		return nil
	}
	for i, r := range f.rollouts {
		if r.ID == f.sum.ID {
			f.rollouts[i] = clone(f.sum)
			return nil
		}
	}
	f.rollouts = append(f.rollouts, clone(f.sum))
	return nil
}

var errFake = errors.New("zone example.com not found in this account")

// newTestModel is the wizard on a fake flow at w x h, fixed clock.
func newTestModel(t testing.TB, f Flow, opts Options, w, h int) *Model {
	t.Helper()
	opts.Now = func() time.Time { return testNow }
	m := New(context.Background(), f, opts)
	t.Cleanup(m.cancel)
	drive(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	drive(t, m, cmdMsgs(m, m.Init())...)
	return m
}

// cmdMsgs runs cmd and returns its message (nil cmd: none). It does not
// run the commands that only sleep and tick (cursor blink, tea.Tick): the
// tests need no animation. While the fake flow holds a step, it parks the
// command that waits for the step's next message (see resume).
func cmdMsgs(m *Model, cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	name := runtime.FuncForPC(reflect.ValueOf(cmd).Pointer()).Name()
	if strings.HasPrefix(name, "charm.land/bubbles/v2/cursor.") || strings.HasPrefix(name, "charm.land/bubbletea/v2.Tick") {
		return nil
	}
	if f, ok := m.c.flow.(*fakeFlow); ok && strings.Contains(name, "ui.listener.next") && f.holding() {
		// The held step sends its first events, then blocks: read those,
		// park the wait for the rest.
		f.mu.Lock()
		f.listens++
		park := f.listens > f.eventsBeforeHold()
		if park {
			f.parked = append(f.parked, cmd)
		}
		f.mu.Unlock()
		if park {
			return nil
		}
	}
	if msg := cmd(); msg != nil {
		return []tea.Msg{msg}
	}
	return nil
}

// eventsBeforeHold is how many events RunStep sends before it blocks.
func (f *fakeFlow) eventsBeforeHold() int {
	if f.hold == StepVerify {
		return 2
	}
	return 1
}

// holding reports a held step not yet released.
func (f *fakeFlow) holding() bool {
	if f.hold == "" {
		return false
	}
	select {
	case <-f.release:
		return false
	default:
		return true
	}
}

// resume releases the held step and delivers its messages.
func resume(t testing.TB, m *Model, f *fakeFlow) []tea.Msg {
	t.Helper()
	close(f.release)
	f.mu.Lock()
	parked := f.parked
	f.parked = nil
	f.mu.Unlock()
	var ends []tea.Msg
	for _, c := range parked {
		ends = append(ends, drive(t, m, cmdMsgs(m, c)...)...)
	}
	return ends
}

var cmdType = reflect.TypeOf(tea.Cmd(nil))

// drive feeds msgs to m, runs the commands Update returns and feeds their
// messages back, until none are left. It drops the cursor-blink and
// spinner ticks (their next command sleeps) and returns the quit and
// interrupt messages it saw.
func drive(t testing.TB, m *Model, msgs ...tea.Msg) (ends []tea.Msg) {
	t.Helper()
	queue := append([]tea.Msg(nil), msgs...)
	for n := 0; len(queue) > 0; n++ {
		if n > 1000 {
			t.Fatal("drive: the model keeps sending messages")
		}
		msg := queue[0]
		queue = queue[1:]
		switch msg.(type) {
		case tea.QuitMsg, tea.InterruptMsg:
			ends = append(ends, msg)
			continue
		case spinner.TickMsg:
			continue
		}
		if strings.HasPrefix(fmt.Sprintf("%T", msg), "cursor.") {
			continue
		}
		if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == cmdType {
			for i := range v.Len() {
				queue = append(queue, cmdMsgs(m, v.Index(i).Interface().(tea.Cmd))...)
			}
			continue
		}
		_, cmd := m.Update(msg)
		queue = append(queue, cmdMsgs(m, cmd)...)
	}
	return ends
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// typeText sends s one key at a time.
func typeText(t testing.TB, m *Model, s string) {
	t.Helper()
	for _, r := range s {
		drive(t, m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// content is the view as plain text (no SGR sequences).
func content(m *Model) string { return ansi.Strip(m.View().Content) }

// atStep shows the screen of step with every earlier step done, as a
// resumed rollout would.
func atStep(t testing.TB, f *fakeFlow, mode, step string, w, h int) *Model {
	t.Helper()
	f.sum = Summary{ID: "r1", Created: testNow, Updated: testNow, Steps: stepsFor(mode, step == StepAlerts),
		Inputs: Inputs{Zone: "example.com", Mode: mode, Hostnames: []string{"www.example.com"}, Server: "nginx",
			ServerCert: "/etc/nginx/tls/www.example.com.pem", ServerKey: "/etc/nginx/tls/www.example.com.key"}}
	if step == StepAlerts {
		f.sum.Inputs.AlertsEmail = "ops@example.com"
	}
	for _, st := range f.sum.Steps {
		if st.Name == step {
			break
		}
		if _, err := f.RunStep(context.Background(), st.Name, func(Event) {}); err != nil {
			t.Fatal(err)
		}
		<-f.started
	}
	f.ran = nil
	m := newTestModel(t, f, Options{Token: "env-token"}, w, h)
	*m.c.sum = f.snapshot()
	drive(t, m, cmdMsgs(m, m.show(m.screenFor(step)))...)
	return m
}

// reshow shows step's screen again after edit changes the rollout's inputs.
func reshow(t testing.TB, m *Model, step string, edit func(*Inputs)) {
	t.Helper()
	edit(&m.c.sum.Inputs)
	drive(t, m, cmdMsgs(m, m.show(m.screenFor(step)))...)
}

// keys presses each key in turn, letting the model settle in between (as
// a person does; two keys in one batch can cross a screen change).
func keys(t testing.TB, m *Model, ks ...string) (ends []tea.Msg) {
	t.Helper()
	for _, k := range ks {
		ends = append(ends, drive(t, m, press(k))...)
	}
	return ends
}

// fakeNginxSoft is what origin/render writes for nginx in the soft phase
// (its golden file, for example.com).
const fakeNginxSoft = `# BEGIN aopwizard example.com
# Rendered by aopwizard: nginx, soft phase, zone mode. Edit the spec and re-render instead of editing
# inside the markers: re-applying replaces this block, rolling back removes it.
log_format aopwizard_aop1_example.com 'aop1 time=$time_iso8601 sni=$ssl_server_name host=$host status=$status verify="$ssl_client_verify" '
        'fp=$ssl_client_fingerprint serial=$ssl_client_serial subject="$ssl_client_s_dn" issuer="$ssl_client_i_dn" '
        'client=$remote_addr ray="$http_cf_ray"';

server {
    listen 443 ssl;
    server_name www.example.com;
    ssl_certificate        /etc/nginx/tls/www.example.com.pem;
    ssl_certificate_key    /etc/nginx/tls/www.example.com.key;
    # The CA names in this bundle are sent in the CertificateRequest.
    ssl_client_certificate /etc/nginx/aop/zone-ca.pem;
    # SOFT: "optional" alone answers 400 to a wrong-CA or expired certificate;
    # error_page 495 hands those requests to @aopwizard_soft, which serves them anyway.
    ssl_verify_client optional;
    error_page 495 = @aopwizard_soft;
    ssl_verify_depth 2;
    access_log /var/log/nginx/aopwizard-example.com.log aopwizard_aop1_example.com;
    location / {
        proxy_pass http://127.0.0.1:8080;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Client-Verify $ssl_client_verify;
    }
    location @aopwizard_soft {
        proxy_pass http://127.0.0.1:8080;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Client-Verify $ssl_client_verify;
    }
}
# END aopwizard example.com
`

// fakeFingerprint is a SHA-256 fingerprint as the flow reports one.
const fakeFingerprint = "30:04:72:A3:E0:6E:0F:CB:DA:3F:A5:BC:03:EC:8C:26:CF:AA:2D:8F:F2:C0:C2:B1:89:AC:55:97:E8:F6:23:10"
