package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/steps"
)

// envStateDir overrides the default state directory.
const envStateDir = apply.StateDirEnv

// stateDirDefault is the --state-dir help's default, for every command
// that reads rollouts.
const stateDirDefault = "(default: $" + envStateDir + ", /var/lib/aopwizard for root, else $XDG_STATE_HOME/aopwizard)"

// rolloutSeams lets tests drive the builtin origin in-process (its test and
// reload "commands"), stand cfsim's CA in for Cloudflare's global one, and
// crash a run at a chosen instant. Production leaves it zero.
var rolloutSeams struct {
	runner   server.Runner
	globalCA []byte
	hook     func(steps.StepName, steps.HookPoint) error
	// rotateHook is called after each saved rotation phase.
	rotateHook func(phase string) error
}

// defaultStateDir is where rollouts live without --state-dir: the one
// default every command shares (origin/apply.StateDir).
func defaultStateDir(flag string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	d, err := apply.StateDir()
	if err != nil {
		return "", usagef("%v; pass --state-dir", err)
	}
	return filepath.Abs(d)
}

// rolloutFlags are shared by run, resume and rollback.
type rolloutFlags struct {
	stateDir       string
	jsonOut        bool
	yes            bool
	nonInteractive bool
	passFile       string
}

func (f *rolloutFlags) bind(fl *pflag.FlagSet) {
	fl.StringVar(&f.stateDir, "state-dir", "", "where rollouts, checkpoints and reports live "+stateDirDefault)
	fl.BoolVar(&f.jsonOut, "json", false, "print one JSON event per line on stdout: {\"time\",\"rollout\",\"step\",\"status\",\"message\",\"fields\"}")
	fl.BoolVar(&f.nonInteractive, "non-interactive", false, "run headless from flags and the environment (no prompts)")
}

type runFlags struct {
	rolloutFlags
	in        steps.Inputs
	mode      string
	waitOrig  time.Duration
	setSSL    string
	noPass    bool
	dryRun    bool
	srv       serverFlags
	originCfg string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Roll AOP out from start to finish, headless (--non-interactive), resumable at any point",
		Long: "run drives the whole rollout: connect (token, zone, SSL/TLS mode), plan, certificate,\n" +
			"upload, the origin's soft phase, enable at Cloudflare, verify, and with --enforce the enforce\n" +
			"phase. Every input is checked before anything is touched; every missing flag is listed at once.\n" +
			"The state is saved after every step in the state dir, so `aopwizard resume` continues after a\n" +
			"crash, a Ctrl-C or a pause. Without --enforce the rollout stops verified in the soft phase.\n\n" +
			"The token comes from " + cfapi.EnvAPIToken + "; the CA passphrase from " + envCAPassphrase + " or\n" +
			"--passphrase-file (or --no-passphrase).\n\n" +
			"Exit status: 0 done (or soft, verified, enforce pending), 1 failed, 2 bad input, 130 interrupted.",
		Example: "  aopwizard run --non-interactive --yes --zone example.com --mode zone --hostname www.example.com \\\n" +
			"      --server nginx --cert /etc/ssl/origin.pem --key /etc/ssl/origin.key --origin 203.0.113.10 --no-passphrase\n" +
			"  aopwizard run --non-interactive --zone example.com --mode hostname --hostname app.example.com --server caddy \\\n" +
			"      --origin-config manual --origin 203.0.113.10 --wait-origin 30m --dry-run",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRun(cmd, &f) },
	}
	fl := cmd.Flags()
	f.rolloutFlags.bind(fl)
	fl.Bool("accessible", false, accessibleHelp)
	fl.BoolVar(&f.yes, "yes", false, "make the changes the plan lists without asking (required with --non-interactive; see them with --dry-run)")
	fl.StringVar(&f.passFile, "passphrase-file", "", "file holding the passphrase that encrypts the generated CA key")
	fl.BoolVar(&f.noPass, "no-passphrase", false, "write the generated CA key unencrypted (keep it offline)")
	fl.StringVar(&f.in.Zone, "zone", "", "the Cloudflare zone (domain), e.g. example.com")
	fl.StringVar(&f.mode, "mode", "", "global (Cloudflare's certificate), zone (yours, whole zone) or hostname (yours, per hostname)")
	fl.StringArrayVar(&f.in.Hostnames, "hostname", nil, "a hostname of the zone (repeat); required in hostname mode")
	fl.StringArrayVar(&f.in.Origins, "origin", nil, "an origin address IP[:PORT] to verify with probes (repeat; default: the --listen address)")
	fl.StringVar(&f.in.Server, "server", "", "the origin server: nginx, apache, haproxy, caddy, traefik, envoy, ingress-nginx or builtin (default: the only one of nginx/apache/haproxy installed)")
	fl.StringVar(&f.originCfg, "origin-config", steps.OriginApply, "apply (aopwizard writes the config, checkpointed) or manual (you write it, aopwizard watches the origin)")
	fl.DurationVar(&f.waitOrig, "wait-origin", 0, "in manual mode, how long to wait for the origin to serve each phase")
	fl.StringVar(&f.in.CertDir, "cert-dir", "", "where generated certificates go (default: STATE_DIR/certs/ROLLOUT)")
	fl.StringVar(&f.in.ImportCert, "import-cert", "", "import this client certificate (with --import-key and --import-ca)")
	fl.StringVar(&f.in.ImportKey, "import-key", "", "the imported client certificate's private key")
	fl.StringVar(&f.in.ImportCA, "import-ca", "", "the CA that issued the imported or reused certificate")
	fl.StringVar(&f.in.ReuseCert, "reuse-cert", "", "reuse a certificate already uploaded, by id or SHA-256 fingerprint (with --import-ca)")
	fl.StringVar(&f.in.KeyType, "key-type", "", "key type of generated certificates (default rsa4096; ecdsa-p256 is faster)")
	fl.StringVar(&f.in.Edge.Addr, "edge", "", "send the through-Cloudflare check to this host:port instead of each hostname's DNS answer (SNI and Host kept): the simulator's edge, or one Cloudflare address")
	fl.StringVar(&f.in.Edge.CAFile, "edge-ca", "", "also trust this CA for the edge's certificate (the simulator's)")
	fl.BoolVar(&f.in.Edge.Skip, "no-edge-check", false, "leave out the request through Cloudflare whose cf-ray must show up verified in the origin's log (when this machine cannot reach the hostnames)")
	fl.BoolVar(&f.in.Enforce, "enforce", false, "go on to the enforce phase after a passing verify")
	fl.BoolVar(&f.in.AutoRevert, "auto-revert", false, "return the origin to the soft phase when enforcing fails its checks")
	fl.StringVar(&f.in.AlertsEmail, "alerts-email", "", "add Cloudflare's certificate expiry notification for this address")
	fl.StringVar(&f.setSSL, "set-ssl-mode", "", "consent to switch the zone's SSL/TLS mode to Full (strict): required under Off or Flexible, recommended under Full; the only value is strict")
	fl.StringVar(&f.in.Origin.Target, "target", "", "where the origin config goes: existing (add AOP to the site that serves the hostnames, in place) or managed (aopwizard's own server block, needs --cert and --key); default existing when the server has such a site")
	fl.BoolVar(&f.in.LegacyZoneToggle, "legacy-zone-toggle", false, "hostname mode: also turn the zone's AOP toggle (tls_client_auth) on, as Cloudflare's older docs said; not needed today")
	fl.BoolVar(&f.dryRun, "dry-run", false, "connect (read-only) and print what would change, then stop")
	fl.StringVar(&f.in.Origin.Listen, "listen", "", "the origin's HTTPS listen address in the config (default :443)")
	fl.StringVar(&f.in.Origin.ServerCert, "cert", "", "the origin's own TLS certificate (HAProxy: cert+key in one PEM)")
	fl.StringVar(&f.in.Origin.ServerKey, "key", "", "the origin's own TLS key")
	fl.StringVar(&f.in.Origin.Upstream, "upstream", "", "proxy to this http(s)://host:port (default: answer directly)")
	fl.StringVar(&f.in.Origin.AccessLog, "access-log", "", "the evidence log (default: the server's own, see notes)")
	fl.StringVar(&f.in.Origin.ConfDir, "conf-dir", "", "the server's configuration directory (default: the --config file's)")
	f.srv.bind(fl)
	return cmd
}

// flagOf maps a steps input field to the flag that sets it.
var flagOf = map[string]string{
	"zone": "--zone", "mode": "--mode", "hostnames": "--hostname", "origins": "--origin", "server": "--server",
	"origin config": "--origin-config", "wait origin": "--wait-origin", "server cert": "--cert", "server key": "--key",
	"builtin commands": "--config, --test-cmd and --reload-cmd", "cert dir": "--cert-dir", "key type": "--key-type",
	"import cert": "--import-cert", "import key": "--import-key", "import ca": "--import-ca",
	"certificate": "--import-cert/--reuse-cert", "auto revert": "--auto-revert", "alerts email": "--alerts-email",
	"access log": "--access-log", "conf dir": "--conf-dir", "edge": "--edge", "edge ca": "--edge-ca", "set ssl mode": "--set-ssl-mode strict", "legacy zone toggle": "--legacy-zone-toggle", "target": "--target", "config": "--config", "checkpoint dir": "--checkpoint-dir",
}

// inputProblems collects every missing and invalid input at once.
type inputProblems struct{ missing, bad []string }

func (p *inputProblems) add(missing bool, flag, why string) {
	line := flag + " (" + why + ")"
	if missing {
		p.missing = append(p.missing, line)
	} else {
		p.bad = append(p.bad, line)
	}
}

func (p *inputProblems) err() error {
	if len(p.missing)+len(p.bad) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("nothing was changed")
	if len(p.missing) > 0 {
		sort.Strings(p.missing)
		b.WriteString("; missing:\n  " + strings.Join(p.missing, "\n  "))
	}
	if len(p.bad) > 0 {
		b.WriteString("\ninvalid:\n  " + strings.Join(p.bad, "\n  "))
	}
	return usageError{err: errors.New(b.String())}
}

func runRun(cmd *cobra.Command, f *runFlags) error {
	var probs inputProblems
	in := &f.in
	in.Mode, in.OriginConfig, in.WaitOrigin, in.NoPassphrase = steps.Mode(f.mode), f.originCfg, f.waitOrig, f.noPass
	switch f.setSSL {
	case "":
	case "strict":
		in.SetSSLStrict = true
	default:
		probs.add(false, "--set-ssl-mode", "only \"strict\" can be set")
	}
	f.srv.toInputs(&in.Origin)
	if !f.nonInteractive {
		// The wizard asks for the rest; the flags are its defaults.
		if err := probs.err(); err != nil {
			return err
		}
		return startWizard(cmd, wizardStart{stateDir: f.stateDir, defaults: *in})
	}
	stateDir, err := defaultStateDir(f.stateDir)
	if err != nil {
		return err
	}
	if in.Server == "" && in.OriginConfig != steps.OriginManual {
		if found := server.Detect(); len(found) == 1 {
			in.Server = string(found[0])
			fmt.Fprintf(cmd.ErrOrStderr(), "Detected %s (the only supported server installed here); pass --server to choose\n", found[0])
		}
	}
	id := steps.NewID(in.Zone, time.Now())
	if in.CertDir == "" && in.ImportCert == "" && in.ReuseCert == "" {
		in.CertDir = filepath.Join(stateDir, "certs", id)
	}
	for _, p := range in.Validate() {
		flag := flagOf[p.Field]
		if flag == "" {
			flag = p.Field
		}
		probs.add(p.Missing, flag, p.Err.Error())
	}
	passphrase, err := rolloutPassphrase(cmd.Context(), f.passFile, in)
	if err != nil {
		probs.add(true, "--passphrase-file", err.Error())
	}
	cfg := cfapi.ConfigFromEnv(os.Getenv)
	if cfg.Scheme() == cfapi.AuthNone {
		probs.add(true, cfapi.EnvAPIToken, "the Cloudflare API token, in the environment")
	}
	if !f.yes && !f.dryRun {
		probs.add(true, "--yes", "agree to the changes the plan lists; see them first with --dry-run")
	}
	if err := probs.err(); err != nil {
		return err
	}

	r := steps.NewRollout(id, *in, time.Now().UTC())
	env, err := rolloutEnv(cmd, r, cfg, stateDir, &f.rolloutFlags)
	if err != nil {
		return err
	}
	env.Secrets.CAPassphrase = passphrase
	if f.dryRun {
		env.DryRun = true
		m := &steps.Machine{Env: env}
		if _, err := m.Run(cmd.Context()); err != nil {
			return rolloutErr(err)
		}
		fmt.Fprint(cmd.OutOrStdout(), env.Summary)
		fmt.Fprintln(cmd.ErrOrStderr(), "dry run: nothing was changed and no rollout was saved; run again with --yes (without --dry-run) to do it")
		return nil
	}
	h, err := steps.Store{Dir: stateDir}.Create(r)
	if err != nil {
		return err
	}
	defer h.Close()
	fmt.Fprintf(cmd.ErrOrStderr(), "Rollout %s (state: %s)\n", r.ID, h.Path())
	return drive(cmd, env, h, &f.rolloutFlags)
}

// rolloutPassphrase reads the CA passphrase when a step will need it:
// generating a CA, unless --no-passphrase.
func rolloutPassphrase(ctx context.Context, file string, in *steps.Inputs) ([]byte, error) {
	if in.CertSource != steps.CertGenerate && file == "" {
		return nil, nil
	}
	return generatePassphrase(ctx, generateFlags{passFile: file, noPass: in.NoPassphrase})
}

// toInputs copies the server overrides into the rollout's inputs.
func (f *serverFlags) toInputs(o *steps.OriginInputs) {
	o.Binary, o.TestCmd, o.ReloadCmd, o.PIDFile, o.ErrorLog = f.binary, f.testCmd, f.reloadCmd, f.pidFile, f.errorLog
	if f.config != "" {
		o.Config = f.config
	}
	if f.checkpointDir != "" {
		o.CheckpointDir = f.checkpointDir
	}
	if f.fl != nil && f.fl.Changed("systemd") {
		o.Systemd = &f.systemd
	}
}

// rolloutEnv wires the steps to the world (steps.NewEnv): the Cloudflare
// client from the environment, origin/apply for the server, the real
// prober and the edge check the inputs ask for. Tests stand the builtin
// origin and cfsim's CA in through rolloutSeams.
func rolloutEnv(cmd *cobra.Command, r *steps.Rollout, cfg cfapi.Config, stateDir string, f *rolloutFlags) (*steps.Env, error) {
	env, err := steps.NewEnv(cmd.Context(), r, steps.EnvOptions{Config: cfg, StateDir: stateDir, Runner: rolloutSeams.runner,
		GlobalCAPEM: rolloutSeams.globalCA, Log: progressWriter{w: cmd.ErrOrStderr()}, Emit: printer(cmd, f.jsonOut)})
	return env, asUsage(err)
}

// progressWriter indents origin/apply's progress under the step lines.
type progressWriter struct{ w io.Writer }

func (p progressWriter) Write(b []byte) (int, error) {
	lines := strings.SplitAfter(string(b), "\n")
	for _, l := range lines {
		if l != "" {
			fmt.Fprint(p.w, "    "+l)
		}
	}
	return len(b), nil
}

// printer shows events as progress lines on stderr and, with --json, as
// JSON lines on stdout.
func printer(cmd *cobra.Command, jsonOut bool) func(steps.Event) {
	return printerBroken(cmd, jsonOut, nil)
}

// printerBroken is printer calling broken, once, with the first error
// writing an event (a closed pipe on stdout or stderr).
func printerBroken(cmd *cobra.Command, jsonOut bool, broken func(error)) func(steps.Event) {
	var mu sync.Mutex
	enc := json.NewEncoder(cmd.OutOrStdout())
	errw := cmd.ErrOrStderr()
	return func(ev steps.Event) {
		mu.Lock()
		defer mu.Unlock()
		var werr error
		if jsonOut {
			werr = enc.Encode(ev)
		}
		line := ev.Message
		switch ev.Status {
		case steps.EventWarning:
			line = "warning: " + line
		case steps.StatusFailed:
			line = "✗ failed" // the error, with what to do, ends the run's output
		case steps.StatusDone:
			line = "✓ done"
		case steps.StatusRunning:
			line = "… " + line
		}
		_, err := fmt.Fprintf(errw, "%-11s %s\n", ev.Step, line)
		werr = cmp.Or(werr, err)
		if c := ev.Fields["content"]; c != "" {
			_, err = fmt.Fprint(errw, c)
			werr = cmp.Or(werr, err)
		}
		if werr != nil && broken != nil {
			broken(werr)
			broken = nil
		}
	}
}

// drive runs the machine and prints how it ended.
func drive(cmd *cobra.Command, env *steps.Env, h *steps.Handle, f *rolloutFlags) error {
	// Output that can no longer be written (run --json | head -1) stops
	// the rollout as Ctrl-C does: the step under way finishes or rolls
	// back and the state is saved, where Go's SIGPIPE would kill the
	// process mid-step.
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	ctx, cancel := context.WithCancelCause(cmd.Context())
	defer cancel(nil)
	env.Emit = printerBroken(cmd, f.jsonOut, func(err error) { cancel(&outputClosed{what: "the rollout", err: err}) })
	m := &steps.Machine{Env: env, Saver: h, Hook: rolloutSeams.hook}
	out, err := m.Run(ctx)
	var closed *outputClosed
	if err != nil && errors.As(context.Cause(ctx), &closed) {
		return errors.Join(closed, rolloutErr(err))
	}
	if err != nil {
		return rolloutErr(err)
	}
	r := env.Rollout
	switch {
	case out.Waiting == steps.StepEnforce:
		fmt.Fprintf(cmd.ErrOrStderr(), "Rollout %s: %s. Enforce with `aopwizard resume %s --non-interactive --enforce`.\n", r.ID, r.Outcome, r.ID)
	default:
		fmt.Fprintf(cmd.ErrOrStderr(), "Rollout %s: %s. Report: %s\n", r.ID, r.Outcome, r.Report)
	}
	if !f.jsonOut {
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", r.ID, r.Outcome)
	}
	return nil
}

// rolloutErr maps step errors to exit codes: bad input 2, interrupted 130
// (the error wraps context.Canceled), the rest 1. Remedies that name an
// input get the flag.
func rolloutErr(err error) error {
	var in *steps.Interrupted
	if errors.As(err, &in) {
		return err
	}
	if steps.IsInput(err) {
		if flag := flagOf[steps.FieldOf(err)]; flag != "" {
			err = fmt.Errorf("%w (%s)", err, flag)
		}
		return usageError{err: err}
	}
	return err
}

// openForDriving checks the credentials are there, opens the named rollout
// (or the only one match accepts) and wires it to the world, for resume,
// rollback and rotate. The caller closes the handle.
func openForDriving(cmd *cobra.Command, f *rolloutFlags, args []string, match func(*steps.Rollout) bool, what string) (*steps.Handle, *steps.Env, error) {
	stateDir, err := defaultStateDir(f.stateDir)
	if err != nil {
		return nil, nil, err
	}
	cfg := cfapi.ConfigFromEnv(os.Getenv)
	if cfg.Scheme() == cfapi.AuthNone {
		return nil, nil, usagef("missing: %s (the Cloudflare API token, in the environment); nothing was changed", cfapi.EnvAPIToken)
	}
	h, err := openRollout(stateDir, args, match, what)
	if err != nil {
		return nil, nil, err
	}
	env, err := rolloutEnv(cmd, h.R, cfg, stateDir, f)
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, env, nil
}

// openRollout opens the named rollout, or the only one match accepts.
func openRollout(stateDir string, args []string, match func(*steps.Rollout) bool, what string) (*steps.Handle, error) {
	s := steps.Store{Dir: stateDir}
	id := ""
	if len(args) > 0 {
		id = args[0]
	} else {
		var err error
		if id, err = s.Only(match, what); err != nil {
			return nil, storeErr(err)
		}
	}
	h, err := s.Open(id)
	return h, storeErr(err)
}

// storeErr makes "no such rollout" and an ambiguous choice bad input.
func storeErr(err error) error {
	if errors.Is(err, steps.ErrNotFound) || errors.Is(err, steps.ErrAmbiguous) {
		return usageError{err: err}
	}
	return err
}
