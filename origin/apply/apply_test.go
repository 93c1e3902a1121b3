package apply_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

const id = "example.test"

// env is a real server started from render.Standalone in a temp dir, with
// a checkpoint dir and a runner that records every command.
type env struct {
	t      *testing.T
	lab    *pkitest.Lab
	dir    string
	spec   render.Spec // what the running server was started with (CA A)
	run    *servertest.Running
	cpDir  string
	runner *server.ExecRunner
	out    *pkitest.LockedBuffer
}

func newEnv(t *testing.T, kind render.Server) *env {
	t.Helper()
	servertest.RequireServer(t, kind)
	lab := pkitest.New(t)
	dir := servertest.Dir(t)
	spec := servertest.LabSpec(t, kind, lab, dir, id)
	spec.Hosts = []render.Host{{Name: "a.example.test"}, {Name: "origin.example.test"}}
	e := &env{t: t, lab: lab, dir: dir, spec: spec, cpDir: filepath.Join(t.TempDir(), "checkpoints"), out: &pkitest.LockedBuffer{}}
	e.run = servertest.StartStandalone(t, spec)
	e.runner = server.NewExecRunner(nil)
	return e
}

func (e *env) opts() apply.Options {
	d := *e.run.Driver
	return apply.Options{Driver: &d, Runner: e.runner, CheckpointDir: e.cpDir, Events: textLog(e.out), ID: id}
}

// textLog writes events as the CLI shows them.
func textLog(w io.Writer) func(apply.Event) {
	return func(ev apply.Event) { _, _ = io.WriteString(w, ev.Text()) }
}

// changes renders spec for the server's own layout (ConfDir = the temp dir)
// and merges it into the files on disk.
func (e *env) changes(spec render.Spec) []apply.Change {
	e.t.Helper()
	out, err := render.Render(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	ch, err := apply.Changes(out, spec.ID, e.run.Driver)
	if err != nil {
		e.t.Fatal(err)
	}
	return ch
}

// specB is the running spec with CA B: a visible, verifiable change.
func (e *env) specB() render.Spec {
	s := e.spec
	s.CAFile = e.lab.Path(pkitest.CABFile)
	return s
}

func (e *env) targets(spec render.Spec) []apply.Target {
	e.t.Helper()
	ts, err := apply.Targets(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return ts
}

// fileState is a file's bytes and mode, or its absence.
type fileState struct {
	data   []byte
	mode   fs.FileMode
	exists bool
}

// snapshot records every regular file and symlink in the config dir.
func (e *env) snapshot() map[string]fileState {
	e.t.Helper()
	snap := map[string]fileState{}
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isConfigFile(p) {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		b, _ := os.ReadFile(p)
		snap[p] = fileState{b, fi.Mode(), true}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return snap
}

// isConfigFile skips what the server itself writes (pid, logs, mutexes)
// in the shared temp dir.
func isConfigFile(p string) bool {
	switch filepath.Ext(p) {
	case ".conf", ".cfg", ".crt-list", ".pem", ".html":
		return true
	}
	return false
}

func (e *env) assertSame(want map[string]fileState, what string) {
	e.t.Helper()
	got := e.snapshot()
	for p, w := range want {
		g := got[p]
		if !g.exists {
			e.t.Errorf("%s: %s is gone", what, p)
		} else if !bytes.Equal(g.data, w.data) || g.mode != w.mode {
			e.t.Errorf("%s: %s differs (mode %v, want %v):\n%s", what, p, g.mode, w.mode, apply.UnifiedDiff("want", "got", w.data, g.data))
		}
	}
	for p := range got {
		if !want[p].exists {
			e.t.Errorf("%s: unexpected file %s", what, p)
		}
	}
}

// request does a real HTTPS request through the listener with SNI and Host
// a.example.test and the given client certificate, and returns the
// verification result the server reports: SUCCESS, NONE or FAILED:….
func (e *env) request(cert *pki.Pair) (string, error) {
	pool := x509.NewCertPool()
	pool.AddCert(e.lab.ServerCA.Cert)
	cfg := &tls.Config{RootCAs: pool, ServerName: "a.example.test",
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			c := cert.TLSCertificate()
			return &c, nil
		}}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	resp, err := c.Get("https://" + e.run.Addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	v := resp.Header.Get("X-Client-Verify")
	if used := resp.Header.Get("X-Client-Used"); used != "" { // HAProxy: numbers
		switch {
		case used == "0":
			v = "NONE"
		case v == "0":
			v = "SUCCESS"
		default:
			v = "FAILED:" + v
		}
	}
	return v, nil
}

// eventuallyVerifies polls until a client-B request reports a result
// starting with want: reloads land asynchronously.
func (e *env) eventuallyVerifies(want string) {
	e.t.Helper()
	servertest.Eventually(e.t, "client B verify result "+want, func() error {
		got, err := e.request(e.lab.ClientB)
		if err == nil && !strings.HasPrefix(got, want) {
			err = fmt.Errorf("verify %q", got)
		}
		return err
	})
}

func (e *env) checkpoints() []string {
	e.t.Helper()
	entries, _ := os.ReadDir(e.cpDir)
	var names []string
	for _, en := range entries {
		if en.IsDir() {
			names = append(names, en.Name())
		}
	}
	return names
}

func (e *env) reloads(from int) int {
	n := 0
	for _, r := range e.runner.Records()[from:] {
		line := strings.Join(r.Argv, " ")
		if strings.Contains(line, "reload") || strings.Contains(line, "graceful") || strings.Contains(line, "-USR2") {
			n++
		}
	}
	return n
}

// TestOriginApply runs the whole safe-apply story against each real server:
// refusal on a broken current config, a broken render caught and restored,
// a soft apply served through the listener, a kill between write and reload
// recovered on the next run, rollback and dry-run.
func TestOriginApply(t *testing.T) {
	t.Parallel()
	for _, kind := range server.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, kind)
			ctx := context.Background()
			original := e.snapshot()
			// Soft phase with CA A: client B's certificate is served but fails.
			if got, err := e.request(e.lab.ClientB); err != nil || !strings.HasPrefix(got, "FAILED") {
				t.Fatalf("before apply: verify %q, %v; want FAILED:…", got, err)
			}

			t.Run("a reload that exits 0 but changes nothing is caught by the listener check", func(t *testing.T) {
				// First, before any other reload: one still pending in the
				// master would load the new files by itself.
				if kind != render.Nginx {
					t.Skip("one server is enough: the check does not depend on it")
				}
				o := e.opts()
				o.Driver.ReloadCmd = "true"
				o.Targets = e.targets(e.specB())
				o.ProbeTimeout = time.Second // the new CA never shows up
				_, err := apply.Apply(ctx, o, e.changes(e.specB()))
				if !errors.Is(err, apply.ErrRestored) || !strings.Contains(err.Error(), "does not announce CN=Lab AOP CA B") ||
					strings.Contains(err.Error(), "restoring failed too") {
					t.Fatalf("Apply error %v, want a restored listener-check failure", err)
				}
				e.assertSame(original, "after the listener check failed")
			})

			t.Run("a phase change with the same CA that is not live is caught too", func(t *testing.T) {
				if kind != render.Nginx {
					t.Skip("one server is enough: the check does not depend on it")
				}
				// soft -> enforce with CA A: the announced CA names stay the
				// same, so only a request without a certificate tells.
				enforce := e.spec
				enforce.Phase = render.Enforce
				o := e.opts()
				o.Driver.ReloadCmd = "true"
				o.Targets = e.targets(enforce)
				o.ProbeTimeout = time.Second
				_, err := apply.Apply(ctx, o, e.changes(enforce))
				if !errors.Is(err, apply.ErrRestored) || !strings.Contains(err.Error(), "the enforce config is not live yet") ||
					strings.Contains(err.Error(), "restoring failed too") {
					t.Fatalf("Apply error %v, want a restored listener-check failure", err)
				}
				e.assertSame(original, "after the listener check failed")
			})

			t.Run("refuses when the current config already fails", func(t *testing.T) {
				main := e.run.Driver.ConfigPath
				good, _ := os.ReadFile(main)
				defer func() {
					if err := os.WriteFile(main, good, 0o644); err != nil {
						t.Fatal(err)
					}
				}()
				if err := os.WriteFile(main, append(bytes.Clone(good), "\nthis is not a directive\n"...), 0o644); err != nil {
					t.Fatal(err)
				}
				broken, checkpoints := e.snapshot(), e.checkpoints()
				_, err := apply.Apply(ctx, e.opts(), e.changes(e.specB()))
				if !errors.Is(err, apply.ErrConfigBroken) {
					t.Fatalf("Apply error %v, want ErrConfigBroken", err)
				}
				e.assertSame(broken, "after refusal")
				if cps := e.checkpoints(); len(cps) != len(checkpoints) {
					t.Fatalf("refusal made a checkpoint: %v, before %v", cps, checkpoints)
				}
			})

			t.Run("broken render is caught by the config test and restored", func(t *testing.T) {
				bad := e.spec
				bad.CAFile = filepath.Join(e.dir, "no-such-ca.pem")
				_, err := apply.Apply(ctx, e.opts(), e.changes(bad))
				if !errors.Is(err, apply.ErrRestored) || !strings.Contains(err.Error(), "config test") {
					t.Fatalf("Apply error %v, want a restored config-test failure", err)
				}
				e.assertSame(original, "after failed apply")
				if got, err := e.request(e.lab.ClientB); err != nil || !strings.HasPrefix(got, "FAILED") {
					t.Fatalf("server after failed apply: %q, %v", got, err)
				}
			})

			t.Run("interrupted apply restores and reloads", func(t *testing.T) {
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				o := e.opts()
				o.AfterWrite = func(context.Context) error { cancel(); return nil } // as SIGINT would
				before := len(e.runner.Records())
				_, err := apply.Apply(ctx, o, e.changes(e.specB()))
				if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "restored") {
					t.Fatalf("Apply error %v, want context.Canceled after restoring", err)
				}
				e.assertSame(original, "after interrupted apply")
				if e.reloads(before) != 1 {
					t.Fatalf("the restore did not reload; commands:\n%s", e.out)
				}
			})

			var applied map[string]fileState
			t.Run("soft apply is live", func(t *testing.T) {
				o := e.opts()
				o.Targets = e.targets(e.specB())
				res, err := apply.Apply(ctx, o, e.changes(e.specB()))
				if err != nil {
					t.Fatalf("Apply: %v\n%s\n%s", err, e.out, e.run.ErrorTail())
				}
				if len(res.Changed) == 0 || res.Checkpoint == "" {
					t.Fatalf("result %+v", res)
				}
				// The listener check saw the new config; workers of the old one
				// may still take a connection or two while they shut down.
				e.eventuallyVerifies("SUCCESS")
				if got, err := e.request(nil); err != nil || got != "NONE" {
					t.Fatalf("soft phase without a certificate: %q, %v; want NONE (served)", got, err)
				}
				if !strings.Contains(e.out.String(), "$ ") {
					t.Fatalf("commands not shown:\n%s", e.out)
				}
				applied = e.snapshot()
				again, err := apply.Apply(ctx, o, e.changes(e.specB()))
				if err != nil || !again.Unchanged {
					t.Fatalf("re-apply: %+v, %v; want unchanged", again, err)
				}
			})
			if applied == nil {
				t.FailNow()
			}

			t.Run("kill between write and reload is recovered on the next run", func(t *testing.T) {
				enforce := e.specB()
				enforce.Phase = render.Enforce
				o := e.opts()
				o.AfterWrite = func(context.Context) error {
					runtime.Goexit() // like a kill: none of Apply's clean-up runs
					return nil
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, _ = apply.Apply(ctx, o, e.changes(enforce))
				}()
				<-done
				cps := e.checkpoints()
				if _, err := os.Stat(filepath.Join(e.cpDir, cps[len(cps)-1], "in-progress")); err != nil {
					t.Fatalf("the killed run left no in-progress checkpoint: %v", err)
				}
				before := len(e.runner.Records())
				recovered, err := apply.Recover(ctx, e.opts())
				if err != nil || len(recovered) != 1 {
					t.Fatalf("Recover = %v, %v; want one checkpoint\n%s", recovered, err, e.out)
				}
				e.assertSame(applied, "after recovery")
				if e.reloads(before) != 1 {
					t.Fatalf("recovery did not reload the server; commands:\n%s", e.out)
				}
				if got, err := e.request(nil); err != nil || got != "NONE" {
					t.Fatalf("after recovery the soft config must serve: %q, %v", got, err)
				}
			})

			t.Run("dry run prints a diff and writes nothing", func(t *testing.T) {
				diff, err := apply.DryRun(e.changes(e.spec))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(diff, "-") || !strings.Contains(diff, e.lab.Path(pkitest.CAAFile)) || !strings.Contains(diff, "+++ ") {
					t.Fatalf("dry-run diff does not show the CA change:\n%s", diff)
				}
				e.assertSame(applied, "after dry run")
			})

			t.Run("rollback restores the last checkpoint", func(t *testing.T) {
				o := e.opts()
				o.Targets = e.targets(e.spec)
				if _, err := apply.Rollback(ctx, o); err != nil {
					b, _ := os.ReadFile(e.run.ErrorLog)
					var keep []string
					for _, l := range strings.Split(string(b), "\n") {
						if !strings.Contains(l, "tls-error") {
							keep = append(keep, l)
						}
					}
					t.Fatalf("Rollback: %v\n%s\n%s", err, e.out, strings.Join(keep, "\n"))
				}
				e.assertSame(original, "after rollback")
				e.eventuallyVerifies("FAILED:")
				if _, err := apply.Rollback(ctx, o); !errors.Is(err, apply.ErrNoCheckpoint) {
					t.Fatalf("second rollback: %v, want ErrNoCheckpoint", err)
				}
			})
		})
	}
}

// An apply reports success only once the old config no longer answers:
// the nginx master starts the new workers and lets the old ones accept for
// at least 100 ms more (longer on a busy host), and requests made right
// after "Applied" used to reach them (8 of 24). When Apply returns, no
// worker from before may still listen, and every request must see the new
// config, through enforce with CA B and back to soft with CA A, several
// times. The targets check the CA names only, the quickest check, which
// used to pass on the first new worker's answer.
func TestOriginApplySucceedsOnlyWhenTheOldConfigIsGone(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the listening processes are read from /proc")
	}
	t.Parallel()
	e := newEnv(t, render.Nginx)
	port := e.run.Addr[strings.LastIndexByte(e.run.Addr, ':')+1:]
	listeners := func() server.Listeners {
		n, _ := strconv.Atoi(port)
		l, err := server.ListenersOn([]int{n})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ctx := context.Background()
	enforceB := e.specB()
	enforceB.Phase = render.Enforce
	soft := e.spec
	for round := range 4 {
		for _, step := range []struct {
			spec  render.Spec
			check func() error
		}{
			{enforceB, func() error {
				if got, err := e.request(e.lab.ClientB); err != nil || got != "SUCCESS" {
					return fmt.Errorf("enforce, client B: %q, %v; want SUCCESS", got, err)
				}
				if got, err := e.request(nil); err == nil {
					return fmt.Errorf("enforce, no certificate: served (%q); want refused", got)
				}
				return nil
			}},
			{soft, func() error {
				if got, err := e.request(nil); err != nil || got != "NONE" {
					return fmt.Errorf("soft, no certificate: %q, %v; want NONE (served)", got, err)
				}
				if got, err := e.request(e.lab.ClientB); err != nil || !strings.HasPrefix(got, "FAILED") {
					return fmt.Errorf("soft with CA A, client B: %q, %v; want FAILED", got, err)
				}
				return nil
			}},
		} {
			o := e.opts()
			o.Targets = e.targets(step.spec)
			for i := range o.Targets {
				o.Targets[i].Phase = ""
			}
			before := listeners()
			if _, err := apply.Apply(ctx, o, e.changes(step.spec)); err != nil {
				t.Fatalf("round %d, %s: Apply: %v\n%s", round, step.spec.Phase, err, e.out)
			}
			if stale := before.Stale(listeners()); len(stale) > 0 {
				t.Fatalf("round %d, %s: Apply returned while workers %v of the old config still listen", round, step.spec.Phase, stale)
			}
			for i := range 5 {
				if err := step.check(); err != nil {
					t.Fatalf("round %d, request %d right after applying %s: %v", round, i, step.spec.Phase, err)
				}
			}
		}
	}
	// Rollback's restore (back to enforce with CA B) is held to the same.
	o := e.opts()
	before := listeners()
	if _, err := apply.Rollback(ctx, o); err != nil {
		t.Fatalf("Rollback: %v\n%s", err, e.out)
	}
	if stale := before.Stale(listeners()); len(stale) > 0 {
		t.Fatalf("Rollback returned while workers %v of the old config still listen", stale)
	}
	if got, err := e.request(e.lab.ClientB); err != nil || got != "SUCCESS" {
		t.Fatalf("right after rollback to enforce with CA B, client B: %q, %v", got, err)
	}
}
