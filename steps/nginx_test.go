package steps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// Zone and hostname rollouts against a real nginx started by the test,
// with the origin config applied by origin/apply, then rolled back to the
// files nginx had before.
func TestRolloutAgainstRealNginx(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	for _, mode := range []Mode{ModeZone, ModeHostname} {
		t.Run(string(mode), func(t *testing.T) {
			l := newLab(t, cfsim.Options{DeployAfter: 1})
			dir := servertest.Dir(t)
			in := l.inputs(mode, "a.example.test", "b.example.test")
			in.Server = "nginx"
			in.Origin.ConfDir, in.Origin.AccessLog = dir, filepath.Join(dir, "access.log")
			in.Origin.TestCmd, in.Origin.ReloadCmd = "", ""
			// nginx starts from a main config whose include dir holds no
			// AOP fragment yet: the rollout writes it.
			out, err := render.Standalone(render.Spec{ID: testZone, Server: render.Nginx, Phase: render.Soft, Mode: render.Zone,
				Listen: l.listen, ServerCertFile: in.Origin.ServerCert, ServerKeyFile: in.Origin.ServerKey,
				CAFile: l.pki.Path(pkitest.CAAFile), AccessLog: in.Origin.AccessLog, RuntimeDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if err := out.Write(); err != nil {
				t.Fatal(err)
			}
			// The included file holds only the operator's own site: the
			// rollout adds its block and must leave the rest alone.
			own := []byte("server {\n    listen " + freePort(t) + ";\n    return 200 \"own\";\n}\n")
			fragment := out.Files[1].Path
			if err := os.WriteFile(fragment, own, 0o644); err != nil {
				t.Fatal(err)
			}
			run := servertest.Start(t, render.Nginx, out.Files[0].Path)
			in.Origin.Config, in.Origin.ErrorLog = run.Driver.ConfigPath, run.ErrorLog
			off := false
			in.Origin.Systemd = &off
			before, _ := os.ReadFile(run.Driver.ConfigPath)

			id, res, err := l.start(in, Secrets{}, nil)
			r := l.finished(id, res, err)
			if !strings.Contains(l.events.text(), "no-cert: rejected at HTTP") {
				t.Errorf("nginx should refuse a request without a certificate at HTTP when enforcing:\n%s", l.events.text())
			}
			if len(r.Changes.ConfigFiles) != 1 || r.Changes.ConfigFiles[0] != fragment {
				t.Fatalf("origin files %v, want the included %s", r.Changes.ConfigFiles, fragment)
			}
			if _, err := l.rollback(id); err != nil {
				t.Fatalf("rollback: %v\n%s", err, l.events.text())
			}
			if got, _ := os.ReadFile(fragment); string(got) != string(own) {
				t.Errorf("rollback left the included file as\n%s", got)
			}
			if after, _ := os.ReadFile(run.Driver.ConfigPath); string(after) != string(before) {
				t.Error("the main config changed")
			}
		})
	}
}
