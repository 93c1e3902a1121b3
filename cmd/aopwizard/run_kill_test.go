package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps"
)

// Environment of a child run (this test binary as aopwizard): the builtin
// origin in the child, and where the child must stop and wait to be killed.
const (
	envKillBuiltin = "AOPWIZARD_TEST_BUILTIN_CONFIG"
	envKillAt      = "AOPWIZARD_TEST_BLOCK_AT"     // step/point
	envKillReload  = "AOPWIZARD_TEST_BLOCK_RELOAD" // block the first reload
	envKillMarker  = "AOPWIZARD_TEST_MARKER"       // created when blocked
)

func init() {
	cfg := os.Getenv(envKillBuiltin)
	if cfg == "" {
		return
	}
	host := &steps.BuiltinHost{ConfigPath: cfg}
	var runner server.Runner = host
	if os.Getenv(envKillReload) != "" {
		runner = blockingReload{host}
	}
	rolloutSeams.runner = runner
	if at := os.Getenv(envKillAt); at != "" {
		rolloutSeams.hook = func(s steps.StepName, p steps.HookPoint) error {
			if string(s)+"/"+string(p) == at {
				block()
			}
			return nil
		}
	}
}

// block announces that the child reached the instant and waits for the kill.
func block() {
	_ = os.WriteFile(os.Getenv(envKillMarker), nil, 0o600)
	select {}
}

type blockingReload struct{ *steps.BuiltinHost }

func (b blockingReload) Run(ctx context.Context, argv ...string) ([]byte, error) {
	if argv[len(argv)-1] == steps.BuiltinReloadCmd {
		block()
	}
	return b.BuiltinHost.Run(ctx, argv...)
}

// blockFirst holds the first API request matching method and path suffix
// until the client is gone, then lets cfsim apply it: the request reached
// Cloudflare and its answer was lost with the killed process.
func blockFirst(method, suffix, marker string) func(http.Handler) http.Handler {
	var once sync.Once
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hit := false
			if r.Method == method && strings.HasSuffix(r.URL.Path, suffix) {
				once.Do(func() { hit = true })
			}
			if hit {
				// The body is read first: only then does the server notice
				// the client going away.
				body, _ := io.ReadAll(r.Body)
				_ = os.WriteFile(marker, nil, 0o600)
				<-r.Context().Done()
				r = r.WithContext(context.WithoutCancel(r.Context()))
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// A real run SIGKILLed at step boundaries and in the middle of the upload,
// the enable call and the origin reload: resume finishes every time, with
// exactly one upload, and the state file always loads.
func TestRunKilledAnywhereIsFinishedByResume(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		wrap func(marker string) func(http.Handler) http.Handler
	}{
		{name: "certificate/before-run", env: []string{envKillAt + "=certificate/before-run"}},
		{name: "upload/after-run", env: []string{envKillAt + "=upload/after-run"}},
		{name: "origin-soft/before-run", env: []string{envKillAt + "=origin-soft/before-run"}},
		{name: "enable/after-run", env: []string{envKillAt + "=enable/after-run"}},
		{name: "enforce/before-run", env: []string{envKillAt + "=enforce/before-run"}},
		{name: "mid-upload", wrap: func(m string) func(http.Handler) http.Handler {
			return blockFirst("POST", "/origin_tls_client_auth", m)
		}},
		{name: "mid-enable", wrap: func(m string) func(http.Handler) http.Handler {
			return blockFirst("PUT", "/origin_tls_client_auth/settings", m)
		}},
		{name: "mid-origin-apply", env: []string{envKillReload + "=1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "blocked")
			var wrap func(http.Handler) http.Handler
			if c.wrap != nil {
				wrap = c.wrap(marker)
			}
			l := newRunLabWrapped(t, cfsim.Options{}, wrap)
			cmd := exec.Command(os.Args[0], l.args("zone", "--enforce")...)
			cmd.Env = append(os.Environ(), append(c.env, "AOPWIZARD_TEST_RUN_MAIN=1", envKillBuiltin+"="+l.host.ConfigPath, envKillMarker+"="+marker)...)
			var stderr pkitest.LockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill() }()
			servertest.Eventually(t, "the run to reach "+c.name, func() error {
				if _, err := os.Stat(marker); err != nil {
					return fmt.Errorf("%w; stderr so far:\n%s", err, stderr.String())
				}
				return nil
			})
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			ids := l.rolloutIDs(t)
			if len(ids) != 1 {
				t.Fatalf("rollouts after the kill: %v", ids)
			}
			if _, err := (steps.Store{Dir: l.stateDir}).Load(ids[0]); err != nil {
				t.Fatalf("the state file after the kill: %v", err)
			}
			res := runCLI(t, "resume", "--non-interactive", "--state-dir", l.stateDir)
			res.expect(t, 0, "enforced, verified")
			if n := l.sim.Uploads(runZone); n != 1 {
				t.Fatalf("%d uploads, want 1\n%s", n, res.errOut)
			}
			r, err := (steps.Store{Dir: l.stateDir}).Load(ids[0])
			if err != nil || r.Changes.Soft.Checkpoint == "" || r.Changes.Enforce.Checkpoint == "" || !r.Certificates[0].Uploaded {
				t.Fatalf("after resume: %v %+v %+v", err, r.Changes, r.Certificates)
			}
			runCLI(t, "rollback", "--state-dir", l.stateDir, "--yes", ids[0]).expect(t, 0, "rolled back")
			if l.sim.ZoneAOPEnabled(runZone) {
				t.Fatal("rollback left zone-level AOP on")
			}
			if _, err := os.Stat(l.host.ConfigPath); err == nil {
				t.Fatal("rollback left the origin config")
			}
		})
	}
}
