package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"

	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps"
)

// fleetHost is one origin of the fleet: a real nginx with its own config
// root, serving a.example.test with CA A in the soft phase.
type fleetHost struct {
	name, dir, etc string
	run            *servertest.Running
	spec           render.Spec
}

// files are the host's config files, as origin apply's CLI tests read them.
func (h *fleetHost) files(t *testing.T) map[string]string {
	t.Helper()
	return (&cliLab{run: h.run, dir: h.dir}).files(t)
}

// vars are the host's inventory variables: its own config, listen
// address, logs and checkpoints over the rollout's spec.
func (h *fleetHost) vars(python string, extra map[string]any) map[string]any {
	specHost := map[string]any{
		"config": h.run.Driver.ConfigPath, "error-log": h.run.ErrorLog, "listen": h.spec.Listen,
		"access-log": h.spec.AccessLog, "checkpoint-dir": filepath.Join(h.dir, "checkpoints"), "systemd": false,
	}
	for k, v := range extra {
		specHost[k] = v
	}
	return map[string]any{
		"ansible_connection": "local", "ansible_python_interpreter": python,
		"aopwizard_etc_dir": h.etc, "aopwizard_probe_origin": h.spec.Listen, "aopwizard_spec_host": specHost,
	}
}

// The exported playbook, run by the real ansible-playbook against two real
// nginx origins on 127.0.0.1: a host whose config test fails after the
// change stops the wave, is restored byte for byte and the host after it is
// not touched; fixed, the soft run and then the enforce run leave both
// origins enforcing the rollout's CA.
func TestExportAnsiblePlaybookRollsOutFleet(t *testing.T) {
	servertest.Require(t, "ansible-playbook")
	servertest.RequireServer(t, render.Nginx)
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	lab := pkitest.New(t)
	hosts := []*fleetHost{{name: "h1"}, {name: "h2"}}
	for _, h := range hosts {
		h.dir = servertest.Dir(t)
		h.etc = filepath.Join(h.dir, "etc")
		h.spec = servertest.LabSpec(t, render.Nginx, lab, h.dir, "example.test")
		h.spec.Hosts = []render.Host{{Name: "a.example.test"}}
		h.run = servertest.StartStandalone(t, h.spec)
	}

	// The rollout: zone mode with CA B, applied by aopwizard to nginx.
	stateDir := t.TempDir()
	r := steps.NewRollout(steps.NewID("example.test", time.Now()), steps.Inputs{
		Zone: "example.test", Mode: steps.ModeZone, Hostnames: []string{"a.example.test"}, Server: "nginx",
		OriginConfig: steps.OriginApply, CertSource: steps.CertImport,
		Origin: steps.OriginInputs{Listen: ":443", ServerCert: lab.Path(pkitest.ServerCert), ServerKey: lab.Path(pkitest.ServerKey)},
	}, time.Now())
	r.Certificates = []steps.CertRecord{{CAFile: lab.Path(pkitest.CABFile), CertFile: lab.Path("clientB.pem"), KeyFile: lab.Path("clientB.key")}}
	hd, err := steps.Store{Dir: stateDir}.Create(r)
	if err != nil {
		t.Fatal(err)
	}
	hd.Close()

	out := filepath.Join(t.TempDir(), "playbook")
	code, stdout, stderr := runOriginCLI(t, "export", "ansible", "--inventory-group", "origins", "--out", out, "--state-dir", stateDir)
	if code != exitOK || !strings.Contains(stdout, filepath.Join(out, "site.yml")) {
		t.Fatalf("export: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// aopwizard on the hosts is this test binary running main.
	bin := filepath.Join(t.TempDir(), "aopwizard")
	script := fmt.Sprintf("#!/bin/sh\nAOPWIZARD_TEST_RUN_MAIN=1 exec %q \"$@\"\n", os.Args[0])
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	playbook := func(extra map[string]map[string]any, args ...string) (string, error) {
		t.Helper()
		inv := map[string]any{}
		for _, h := range hosts {
			inv[h.name] = h.vars(python, extra[h.name])
		}
		b, err := yaml.Marshal(map[string]any{"all": map[string]any{"children": map[string]any{"origins": map[string]any{"hosts": inv}}}})
		if err != nil {
			t.Fatal(err)
		}
		invPath := filepath.Join(tmp, "hosts.yml")
		if err := os.WriteFile(invPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ansible-playbook", append([]string{"-i", invPath, "site.yml", "-e", "aopwizard_bin=" + bin}, args...)...)
		cmd.Dir = out
		cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_HOME="+filepath.Join(tmp, "home"),
			"ANSIBLE_LOCAL_TEMP="+filepath.Join(tmp, "local"), "ANSIBLE_REMOTE_TEMP="+filepath.Join(tmp, "remote"),
			"ANSIBLE_CONFIG="+filepath.Join(tmp, "none.cfg"), "ANSIBLE_DEPRECATION_WARNINGS=0", "ANSIBLE_LOCALHOST_WARNING=0")
		var b2 bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b2, &b2
		err = cmd.Run()
		return b2.String(), err
	}

	// h1's config test fails once the new CA is in its config: apply
	// restores it, the play stops, and h2 is never reached.
	before := map[string]map[string]string{}
	for _, h := range hosts {
		before[h.name] = h.files(t)
	}
	h1 := hosts[0]
	failing := fmt.Sprintf("! grep -q caB.pem %s && /usr/sbin/nginx -t -q -c %s -e %s",
		filepath.Join(h1.dir, "conf.d", "aopwizard-example.test.conf"), h1.run.Driver.ConfigPath, h1.run.ErrorLog)
	log, err := playbook(map[string]map[string]any{"h1": {"test-cmd": failing}})
	if err == nil {
		t.Fatalf("the wave went on past a failing host:\n%s", log)
	}
	if !strings.Contains(log, "fatal: [h1]") || !strings.Contains(log, "restored") || strings.Contains(log, "[h2]") {
		t.Errorf("want h1 failed and restored, h2 never run:\n%s", log)
	}
	for _, h := range hosts {
		got := h.files(t)
		for p, want := range before[h.name] {
			if got[p] != want {
				t.Errorf("%s: %s changed after the failed wave:\n%s", h.name, p, got[p])
			}
		}
	}
	if _, err := os.Stat(hosts[1].etc); err == nil {
		t.Errorf("h2 got files from a wave that stopped at h1")
	}

	// Fixed: soft (the default run), then enforce.
	if log, err := playbook(nil); err != nil || !strings.Contains(log, "h2") {
		t.Fatalf("soft run: %v\n%s", err, log)
	}
	if log, err := playbook(nil, "--tags", "enforce"); err != nil || !strings.Contains(log, "Apply the enforce phase") {
		t.Fatalf("enforce run: %v\n%s", err, log)
	}
	for _, h := range hosts {
		url := "https://" + h.spec.Listen + "/"
		for _, c := range []struct {
			cert *pki.Pair
			want int
		}{{lab.ClientB, http.StatusOK}, {nil, http.StatusBadRequest}, {lab.ClientA, http.StatusBadRequest}} {
			resp, err := servertest.Client(lab, "a.example.test", c.cert).Get(url)
			if err != nil {
				t.Fatalf("%s: %v", h.name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("%s with %v: HTTP %d, want %d", h.name, c.cert != nil, resp.StatusCode, c.want)
			}
		}
	}
}

// Which rollout is exported, and bad input refused with exit 2 before
// anything is written.
func TestExportAnsibleSelectsRollout(t *testing.T) {
	stateDir, out := t.TempDir(), filepath.Join(t.TempDir(), "pb")
	args := []string{"export", "ansible", "--state-dir", stateDir, "--out", out}
	code, _, errs := runOriginCLI(t, append(args, "--inventory-group", "origins")...)
	if code != exitUsage || !strings.Contains(errs, "no active rollout") {
		t.Fatalf("no rollout: exit %d, %s", code, errs)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("CA"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, zone := range []string{"a.test", "b.test"} {
		r := steps.NewRollout(steps.NewID(zone, time.Now().Add(time.Duration(i)*time.Second)), steps.Inputs{Zone: zone, Mode: steps.ModeZone, Server: "nginx"}, time.Now())
		r.Certificates = []steps.CertRecord{{CAFile: ca}}
		h, err := steps.Store{Dir: stateDir}.Create(r)
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{nil, "--inventory-group is required"},
		{[]string{"--inventory-group", "web servers"}, "--inventory-group: the inventory group name must be"},
		{[]string{"--inventory-group", "origins"}, "name the one to use"},
		{[]string{"--inventory-group", "origins", "--zone", "c.test"}, "no rollout of zone c.test"},
	} {
		code, _, errs := runOriginCLI(t, append(args, c.args...)...)
		if code != exitUsage || !strings.Contains(errs, c.says) {
			t.Errorf("%v: exit %d, stderr %s", c.args, code, errs)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("bad input wrote the playbook")
	}
	code, stdout, errs := runOriginCLI(t, append(args, "--inventory-group", "origins", "--zone", "b.test", "--zone", "a.test")...)
	if code != exitOK {
		t.Fatalf("exit %d, %s", code, errs)
	}
	site, err := os.ReadFile(filepath.Join(out, "site.yml"))
	if err != nil || !regexpMatch(`(?s)origins of b\.test .*origins of a\.test `, string(site)) {
		t.Errorf("want a play for b.test then a.test:\n%s\n%s", site, stdout)
	}
	code, _, errs = runOriginCLI(t, append(args, "--inventory-group", "origins", "--zone", "a.test")...)
	if code != exitUsage || !strings.Contains(errs, "exists") {
		t.Errorf("over an existing playbook: exit %d, %s", code, errs)
	}
	if code, _, errs = runOriginCLI(t, append(args, "--inventory-group", "origins", "--zone", "a.test", "--force")...); code != exitOK {
		t.Errorf("--force: exit %d, %s", code, errs)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
