package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"charm.land/fang/v2"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

func TestOriginApplyBadFlags(t *testing.T) {
	confDir := t.TempDir()
	conf, missing := filepath.Join(confDir, "nginx.conf"), filepath.Join(confDir, "no-such-file")
	if err := os.WriteFile(conf, []byte("events {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"origin", "apply", "--cert", "/c.pem", "--key", "/k.pem", "--checkpoint-dir", t.TempDir(), "--systemd=false"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--server", "nginx"}, "--server and --phase are required"},
		{[]string{"--server", "caddy", "--phase", "soft", "--id", "x"}, "unknown server \"caddy\""},
		{[]string{"--server", "nginx", "--phase", "strict", "--id", "x"}, `phase "strict" is unknown`},
		{[]string{"--server", "nginx", "--phase", "soft", "--id", "x", "--ca-file", "/no/such/ca.pem", "--yes"}, "read CA bundle"},
		{[]string{"--server", "nginx", "--phase", "soft", "--id", "x", "--ca-file", "/ca.pem", "--no-listener-check",
			"--config", conf}, "pass --yes"},
		// Paths that cannot be right are bad input, named, before any
		// config test runs (it would only say the config fails).
		{[]string{"--server", "nginx", "--phase", "soft", "--id", "x", "--ca-file", "/ca.pem", "--no-listener-check", "--yes",
			"--config", missing}, "nginx main config " + missing + ": no such file; pass --config"},
		{[]string{"--server", "nginx", "--phase", "soft", "--id", "x", "--ca-file", "/ca.pem", "--no-listener-check", "--yes",
			"--config", confDir}, "nginx main config " + confDir + ": not a regular file (it is a directory); pass --config"},
		{[]string{"--server", "nginx", "--phase", "soft", "--id", "x", "--ca-file", "/ca.pem", "--no-listener-check", "--yes",
			"--config", conf, "--binary", missing}, "nginx binary " + missing + ": stat " + missing + ": no such file or directory; pass --binary"},
	}
	for _, c := range cases {
		code, _, errs := runOriginCLI(t, append(base, c.args...)...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %q", c.args, code, errs, c.want)
		}
	}
}

func TestOriginApplyPicksTheOnlyInstalledServer(t *testing.T) {
	if got, err := pickServer([]render.Server{render.HAProxy}); err != nil || got != render.HAProxy {
		t.Errorf("one server installed: got %q, %v; want haproxy", got, err)
	}
	for _, found := range [][]render.Server{nil, {render.Nginx, render.Apache}} {
		_, err := pickServer(found)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "pass --server") {
			t.Errorf("found %v: err %v, want a usage error asking for --server", found, err)
		}
		if len(found) == 2 && !strings.Contains(err.Error(), "nginx, apache") {
			t.Errorf("found %v: err %v does not name what is installed", found, err)
		}
	}
}

// cliLab is a real nginx started from a standalone render with CA A.
type cliLab struct {
	lab        *pkitest.Lab
	dir, cpDir string
	run        *servertest.Running
	args       []string // apply flags for CA B, minus --phase
}

func newCLILab(t *testing.T) *cliLab {
	t.Helper()
	servertest.RequireServer(t, render.Nginx)
	lab := pkitest.New(t)
	dir := servertest.Dir(t)
	listen := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	spec := render.Spec{ID: "example.test", Server: render.Nginx, Phase: render.Soft, Mode: render.Zone, Listen: listen,
		ServerCertFile: lab.Path(pkitest.ServerCert), ServerKeyFile: lab.Path(pkitest.ServerKey), CAFile: lab.Path(pkitest.CAAFile),
		Hosts: []render.Host{{Name: "a.example.test"}}, AccessLog: filepath.Join(dir, "access.log"), RuntimeDir: dir}
	out, err := render.Standalone(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Write(); err != nil {
		t.Fatal(err)
	}
	l := &cliLab{lab: lab, dir: dir, cpDir: filepath.Join(t.TempDir(), "cp")}
	l.run = servertest.Start(t, render.Nginx, out.Files[0].Path)
	l.args = []string{"origin", "apply", "--server", "nginx", "--hostname", "a.example.test", "--id", "example.test",
		"--ca-file", lab.Path(pkitest.CABFile), "--cert", spec.ServerCertFile, "--key", spec.ServerKeyFile,
		"--listen", listen, "--access-log", spec.AccessLog, "--config", l.run.Driver.ConfigPath,
		"--error-log", l.run.ErrorLog, "--checkpoint-dir", l.cpDir, "--systemd=false"}
	return l
}

func (l *cliLab) files(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, p := range []string{l.run.Driver.ConfigPath, filepath.Join(l.dir, "conf.d", "aopwizard-example.test.conf")} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		m[p] = fmt.Sprintf("%v\n%s", fi.Mode(), b)
	}
	return m
}

func sameFiles(t *testing.T, got, want map[string]string, what string) {
	t.Helper()
	for p := range want {
		if got[p] != want[p] {
			t.Errorf("%s: %s differs", what, p)
		}
	}
}

func TestOriginApplyDryRunApplyRollback(t *testing.T) {
	t.Parallel()
	l := newCLILab(t)
	original := l.files(t)

	code, out, errs := runOriginCLI(t, append(l.args, "--phase", "soft", "--dry-run")...)
	if code != exitOK || !strings.Contains(out, "-    ssl_client_certificate "+l.lab.Path(pkitest.CAAFile)) ||
		!strings.Contains(out, "+    ssl_client_certificate "+l.lab.Path(pkitest.CABFile)) {
		t.Fatalf("dry run: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	sameFiles(t, l.files(t), original, "after --dry-run")
	if !strings.Contains(errs, "dry run: nothing was written") || !strings.Contains(errs, "Target managed: aopwizard's own block example.test serves a.example.test") {
		t.Errorf("dry run does not say it wrote nothing, or that it updates aopwizard's own block; stderr:\n%s", errs)
	}

	code, out, errs = runOriginCLI(t, append(l.args, "--phase", "soft", "--yes")...)
	if code != exitOK {
		t.Fatalf("apply: exit %d\nstderr:\n%s", code, errs)
	}
	for _, want := range []string{"$ /usr/sbin/nginx -t -q -c " + l.run.Driver.ConfigPath, "-s reload", "Listener OK"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if !strings.Contains(out, "applied nginx soft phase") {
		t.Errorf("stdout: %s", out)
	}

	code, out, errs = runOriginCLI(t, "origin", "rollback", "--server", "nginx", "--checkpoint-dir", l.cpDir,
		"--config", l.run.Driver.ConfigPath, "--error-log", l.run.ErrorLog, "--systemd=false")
	if code != exitOK || !strings.Contains(out, "restored "+filepath.Join(l.dir, "conf.d", "aopwizard-example.test.conf")) {
		t.Fatalf("rollback: exit %d, stdout %s\nstderr:\n%s", code, out, errs)
	}
	sameFiles(t, l.files(t), original, "after rollback")

	code, _, errs = runOriginCLI(t, "origin", "rollback", "--checkpoint-dir", l.cpDir, "--systemd=false")
	if code != exitFailure || !strings.Contains(errs, "no applied change to roll back") {
		t.Fatalf("second rollback: exit %d, stderr %s", code, errs)
	}

	// A mistyped checkpoint dir is bad input: named, and nothing created.
	typo := l.cpDir + "x"
	code, _, errs = runOriginCLI(t, "origin", "rollback", "--checkpoint-dir", typo, "--systemd=false")
	if code != exitUsage || !strings.Contains(errs, "no applied change to roll back: "+typo+" does not exist") ||
		!strings.Contains(errs, "check --checkpoint-dir") {
		t.Fatalf("rollback from a missing dir: exit %d, stderr %s", code, errs)
	}
	if _, err := os.Lstat(typo); !os.IsNotExist(err) {
		t.Fatalf("rollback created %s: %v", typo, err)
	}

	// The change log keeps each run's header and every command it ran.
	logBytes, err := os.ReadFile(filepath.Join(l.cpDir, originLogName))
	if err != nil {
		t.Fatal(err)
	}
	log := string(logBytes)
	for _, want := range []string{
		"aopwizard origin apply --",
		"--phase=soft",
		"$ /usr/sbin/nginx -t -q -c " + l.run.Driver.ConfigPath,
		"aopwizard origin rollback --",
		"Listener OK",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("%s lacks %q:\n%s", originLogName, want, log)
		}
	}
	if strings.Count(log, "\n=== ")+1 != 3 || !strings.HasPrefix(log, "=== ") {
		t.Errorf("%s should have one header per apply and rollback run (3):\n%s", originLogName, log)
	}
	if fi, err := os.Stat(filepath.Join(l.cpDir, originLogName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode: %v, %v; want 0600", originLogName, fi.Mode(), err)
	}
}

// A failure after the write exits 1 and says what was restored; Ctrl-C
// (the cancelled context) exits 130, also after restoring.
func TestOriginApplyFailureAndInterruptRestore(t *testing.T) {
	t.Parallel()
	l := newCLILab(t)
	original := l.files(t)
	args := append(append([]string(nil), l.args[2:]...), "--phase", "enforce", "--yes") // without "origin apply"

	fail := originApplyHooks{afterWrite: func(context.Context) error { return errors.New("simulated failure after the write") }}
	code, errs := runOriginApplyWith(context.Background(), fail, args)
	if code != exitFailure || !strings.Contains(errs, "simulated failure") || !strings.Contains(errs, "restored 1 file and reloaded nginx") {
		t.Fatalf("failed apply: exit %d, stderr:\n%s", code, errs)
	}
	sameFiles(t, l.files(t), original, "after failed apply")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupt := originApplyHooks{afterWrite: func(context.Context) error { cancel(); return nil }} // as SIGINT cancels the CLI context
	code, errs = runOriginApplyWith(ctx, interrupt, args)
	if code != exitInterrupted || !strings.Contains(errs, "interrupted; restored 1 file") {
		t.Fatalf("interrupted apply: exit %d, stderr:\n%s", code, errs)
	}
	sameFiles(t, l.files(t), original, "after interrupted apply")
}

// runOriginApplyWith runs `origin apply args` with test hooks and returns
// the exit code and what the CLI printed on stderr.
func runOriginApplyWith(ctx context.Context, hooks originApplyHooks, args []string) (int, string) {
	c := newOriginApplyCmdWith(hooks)
	var out, errb bytes.Buffer
	c.SetArgs(args)
	c.SetOut(&out)
	c.SetErr(&errb)
	c.SilenceUsage, c.SilenceErrors = true, true
	err := c.ExecuteContext(ctx)
	if err != nil {
		errorHandler(&errb, fang.Styles{}, err)
	}
	return exitCode(ctx, err), errb.String()
}

// Issue 7 defect 2: `origin apply --ca-file cert.crt --phase enforce --yes`
// with the client certificate (CA:FALSE) as the bundle exited 0, and
// enforce then rejected Cloudflare. A leaf bundle, or a --client-cert the
// bundle does not verify, is bad input and nothing is written; the right
// pair applies.
func TestOriginApplyRefusesABundleThatDoesNotVerifyTheClient(t *testing.T) {
	t.Parallel()
	l := newCLILab(t)
	original := l.files(t)
	withCA := func(ca string, extra ...string) []string {
		args := append([]string(nil), l.args...)
		for i, a := range args {
			if a == "--ca-file" {
				args[i+1] = ca
			}
		}
		return append(append(args, "--phase", "enforce", "--yes"), extra...)
	}
	leaf := l.lab.Path("clientB.pem")
	code, _, errs := runOriginCLI(t, withCA(leaf)...)
	if code != exitUsage || !strings.Contains(errs, "is not a CA") || !strings.Contains(errs, leaf) {
		t.Fatalf("leaf as --ca-file: exit %d, stderr:\n%s\nwant exit 2 saying it is not a CA", code, errs)
	}
	sameFiles(t, l.files(t), original, "after the leaf bundle was refused")

	code, _, errs = runOriginCLI(t, withCA(l.lab.Path(pkitest.CABFile), "--client-cert", l.lab.Path("clientA.pem"))...)
	if code != exitUsage || !strings.Contains(errs, "--client-cert") || !strings.Contains(errs, "does not chain to the CA bundle") {
		t.Fatalf("client A against CA B: exit %d, stderr:\n%s\nwant exit 2 naming --client-cert", code, errs)
	}
	sameFiles(t, l.files(t), original, "after the wrong client certificate was refused")

	code, out, errs := runOriginCLI(t, withCA(l.lab.Path(pkitest.CABFile), "--client-cert", l.lab.Path("clientB.pem"))...)
	if code != exitOK || !strings.Contains(out, "applied nginx enforce phase") {
		t.Fatalf("client B against CA B: exit %d, stdout %s\nstderr:\n%s", code, out, errs)
	}
}
