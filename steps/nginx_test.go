package steps

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
			// nginx starts from a main config whose include dir holds no
			// AOP fragment yet: the rollout writes it. The included file
			// holds only the operator's own site: the rollout adds its
			// block and must leave the rest alone.
			own := []byte("server {\n    listen " + freePort(t) + ";\n    return 200 \"own\";\n}\n")
			run, fragment := l.startNginx(&in, dir, l.listen, in.Origin.ServerCert, in.Origin.ServerKey, own)
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

// The origin step edits the operator's existing nginx site in place when
// one serves the hostnames (issue 10's default): no origin certificate is
// given, the target "existing" is chosen and recorded, the site's own file
// is the one changed (markers inside its server block), the site's answer
// is kept for the rollout's certificate while enforcing, and rollback
// restores the files byte for byte.
func TestRolloutEditsTheExistingNginxSite(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	for _, mode := range []Mode{ModeZone, ModeHostname} {
		t.Run(string(mode), func(t *testing.T) {
			l := newLab(t, cfsim.Options{DeployAfter: 1})
			in := l.inputs(mode, "a.example.test", "b.example.test")
			run, fragment, site := l.operatorSite(&in)
			mainBefore, _ := os.ReadFile(run.Driver.ConfigPath)

			id, res, err := l.start(in, Secrets{}, nil)
			r := l.finished(id, res, err)
			if r.Inputs.Origin.Target != "existing" {
				t.Fatalf("target %q, want existing\n%s", r.Inputs.Origin.Target, l.events.text())
			}
			// The site's file, and the main config for the evidence
			// log_format (http context).
			if !slices.Contains(r.Changes.ConfigFiles, fragment) {
				t.Fatalf("origin files %v, want the site's own %s among them", r.Changes.ConfigFiles, fragment)
			}
			edited, _ := os.ReadFile(fragment)
			if !strings.Contains(string(edited), "# BEGIN aopwizard "+testZone) || !strings.Contains(string(edited), "return 200 \"own site\\n\";") {
				t.Fatalf("the site was not edited in place:\n%s", edited)
			}
			status, body, err := get(l.listen, "a.example.test", clientPair(t, r.Certificates[0]))
			if err != nil || status != http.StatusOK || body != "own site\n" {
				t.Fatalf("the enforcing site answers %d %q (%v), want the site's own 200 \"own site\"", status, body, err)
			}
			if !strings.Contains(l.events.text(), "target existing") {
				t.Errorf("the choice is not reported:\n%s", l.events.text())
			}
			if _, err := l.rollback(id); err != nil {
				t.Fatalf("rollback: %v\n%s", err, l.events.text())
			}
			if got, _ := os.ReadFile(fragment); string(got) != string(site) {
				t.Errorf("rollback left the site as\n%s", got)
			}
			if got, _ := os.ReadFile(run.Driver.ConfigPath); string(got) != string(mainBefore) {
				t.Errorf("rollback left the main config as\n%s", got)
			}
		})
	}
}

func clientPair(t *testing.T, c CertRecord) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// get is one HTTPS request to addr for host, presenting pair; a handshake
// the origin refuses is an error.
func get(addr, host string, pair tls.Certificate) (int, string, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{ServerName: host, InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}}}} //nolint:gosec // the origin's certificate is not under test
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestRotateToANewCAOnRealNginx: a zone rollout enforcing on a real nginx
// rotates to a new CA; the origin then accepts the new client certificate
// and refuses the old one, and rollback after the rotation leaves nginx's
// files as they were before the rollout.
func TestRotateToANewCAOnRealNginx(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	l := newLab(t, cfsim.Options{DeployAfter: 1})
	in := l.inputs(ModeZone, "a.example.test")
	own := []byte("server {\n    listen " + freePort(t) + ";\n    return 200 \"own\";\n}\n")
	run, fragment := l.startNginx(&in, servertest.Dir(t), l.listen, in.Origin.ServerCert, in.Origin.ServerKey, own)
	mainBefore, _ := os.ReadFile(run.Driver.ConfigPath)
	id, out, err := l.start(in, Secrets{}, nil)
	before := l.finished(id, out, err)
	oldPair := clientPair(t, before.Certificates[0])

	r, err := l.rotateNewCA(id, nil)
	if err != nil {
		t.Fatalf("rotation: %v\n%s", err, l.events.text())
	}
	c := r.Certificates[0]
	if r.Rotation != nil || c.CAFile == before.Certificates[0].CAFile {
		t.Fatalf("after the rotation: %+v %+v", r.Rotation, c)
	}
	if status, _, err := get(l.listen, "a.example.test", clientPair(t, c)); err != nil || status != http.StatusOK {
		t.Fatalf("the new client certificate gets %d (%v), want 200", status, err)
	}
	if status, _, err := get(l.listen, "a.example.test", oldPair); err == nil && status == http.StatusOK {
		t.Fatal("the origin still accepts the old CA's certificate after the rotation")
	}
	if _, err := l.rollback(id); err != nil {
		t.Fatalf("rollback: %v\n%s", err, l.events.text())
	}
	if got, _ := os.ReadFile(fragment); string(got) != string(own) {
		t.Errorf("rollback left the included file as\n%s", got)
	}
	if got, _ := os.ReadFile(run.Driver.ConfigPath); string(got) != string(mainBefore) {
		t.Error("rollback changed the main config")
	}
}

// operatorSite starts a real nginx with the operator's own site: TLS for
// both test hostnames on the rollout's origin address, with its own
// answer; in gives no origin certificate (the site has one).
func (l *lab) operatorSite(in *Inputs) (run *servertest.Running, fragment string, site []byte) {
	srvCert, srvKey := in.Origin.ServerCert, in.Origin.ServerKey
	in.Origin.ServerCert, in.Origin.ServerKey = "", ""
	site = []byte("# the operator's site\nserver {\n    listen " + l.listen + " ssl;\n    server_name a.example.test b.example.test;\n" +
		"    ssl_certificate " + srvCert + ";\n    ssl_certificate_key " + srvKey + ";\n\n" +
		"    location / {\n        return 200 \"own site\\n\";\n    }\n}\n")
	run, fragment = l.startNginx(in, servertest.Dir(l.t), freePort(l.t), srvCert, srvKey, site)
	return run, fragment, site
}

// TestExistingSiteIsProbedWhereItListens: with the config in the
// operator's site and no origin address given, the probes dial the
// addresses the site listens on (not a guessed :443), and the rollout
// gets to enforced.
func TestExistingSiteIsProbedWhereItListens(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	l := newLab(t, cfsim.Options{DeployAfter: 1})
	in := l.inputs(ModeZone, "a.example.test", "b.example.test")
	l.operatorSite(&in)
	// Neither an origin address nor a listen address for a block of
	// aopwizard's: all there is to go by is the site.
	in.Origins, in.Origin.Listen = nil, ""
	id, res, err := l.start(in, Secrets{}, nil)
	r := l.finished(id, res, err)
	if r.Inputs.Origin.Target != "existing" || !slices.Equal(r.SiteAddrs, []string{l.listen}) {
		t.Fatalf("target %q, site addresses %v, want existing on %s\n%s", r.Inputs.Origin.Target, r.SiteAddrs, l.listen, l.events.text())
	}
	if !strings.Contains(l.events.text(), "probing the addresses the site listens on, "+l.listen) {
		t.Errorf("the addresses probed are not reported:\n%s", l.events.text())
	}
}

// TestPlanFindsNoSiteBeforeACertificate: nginx has no TLS site for the
// hostnames and no origin certificate was given for a block of
// aopwizard's: the plan says so, as an input to fix, before a key is
// generated or anything is uploaded.
func TestPlanFindsNoSiteBeforeACertificate(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	l := newLab(t, cfsim.Options{})
	in := l.inputs(ModeZone, "a.example.test")
	srvCert, srvKey := in.Origin.ServerCert, in.Origin.ServerKey
	in.Origin.ServerCert, in.Origin.ServerKey = "", ""
	other := []byte("server {\n    listen " + l.listen + " ssl;\n    server_name other.example.test;\n" +
		"    ssl_certificate " + srvCert + ";\n    ssl_certificate_key " + srvKey + ";\n}\n")
	l.startNginx(&in, servertest.Dir(t), freePort(t), srvCert, srvKey, other)
	id, _, err := l.start(in, Secrets{}, nil)
	if !IsInput(err) || !strings.Contains(err.Error(), "add TLS to the site first") {
		t.Fatalf("plan on a server with no site for the hostnames: %v\n%s", err, l.events.text())
	}
	r, lerr := l.store.Load(id)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if st := r.Step(StepPlan); st.Status != StatusFailed || r.Step(StepCertificate).Status != StatusPending || l.sim.Uploads(testZone) != 0 {
		t.Fatalf("plan %s, certificate %s, %d uploads", st.Status, r.Step(StepCertificate).Status, l.sim.Uploads(testZone))
	}
}

// startNginx starts a real nginx from a standalone main config (listening
// on listen for its own managed block) whose included file holds site, and
// points the rollout's inputs at it.
func (l *lab) startNginx(in *Inputs, dir, listen, srvCert, srvKey string, site []byte) (*servertest.Running, string) {
	t := l.t
	in.Server = "nginx"
	in.Origin.ConfDir, in.Origin.AccessLog = dir, filepath.Join(dir, "access.log")
	in.Origin.TestCmd, in.Origin.ReloadCmd = "", ""
	out, err := render.Standalone(render.Spec{ID: testZone, Server: render.Nginx, Phase: render.Soft, Mode: render.Zone,
		Listen: listen, ServerCertFile: srvCert, ServerKeyFile: srvKey,
		CAFile: l.pki.Path(pkitest.CAAFile), AccessLog: in.Origin.AccessLog, RuntimeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Write(); err != nil {
		t.Fatal(err)
	}
	fragment := out.Files[1].Path
	if err := os.WriteFile(fragment, site, 0o644); err != nil {
		t.Fatal(err)
	}
	run := servertest.Start(t, render.Nginx, out.Files[0].Path)
	in.Origin.Config, in.Origin.ErrorLog = run.Driver.ConfigPath, run.ErrorLog
	off := false
	in.Origin.Systemd = &off
	return run, fragment
}

// TestPreviewOriginShowsTheInPlaceEdit: before the origin step, the
// preview of a rollout whose hostnames the operator's nginx site serves is
// the diff of that site's file (where the rendered block of aopwizard's
// could not even be made: no certificate was given), and writes nothing.
func TestPreviewOriginShowsTheInPlaceEdit(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	l := newLab(t, cfsim.Options{})
	in := l.inputs(ModeZone, "a.example.test", "b.example.test")
	_, fragment, site := l.operatorSite(&in)
	r := NewRollout("preview-1", in, time.Now().UTC())
	r.Certificates = planCerts(&r.Inputs)
	r.Certificates[0].CAFile = l.pki.Path(pkitest.CAAFile)
	v, err := PreviewOrigin(context.Background(), l.env(r, Secrets{}))
	if err != nil || v == nil {
		t.Fatalf("preview: %+v, %v", v, err)
	}
	if v.Target != "existing" || !slices.Contains(v.Files, fragment) || !strings.Contains(v.Diff, "+    ssl_verify_client optional_no_ca;") {
		t.Fatalf("preview target %q files %v:\n%s", v.Target, v.Files, v.Diff)
	}
	if got, _ := os.ReadFile(fragment); string(got) != string(site) {
		t.Fatalf("the preview wrote the site:\n%s", got)
	}
	if r.Inputs.Origin.Target != "" {
		t.Fatalf("the preview recorded target %q", r.Inputs.Origin.Target)
	}
}
