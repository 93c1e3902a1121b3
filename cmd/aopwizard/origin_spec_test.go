package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/pki/pkitest"
)

func writeSpecFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "origin.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// render --spec prints exactly what the same inputs as flags print, and a
// flag given on the command line wins over the file.
func TestOriginRenderSpecFile(t *testing.T) {
	flags := []string{"--server", "nginx", "--phase", "soft", "--ca-file", "/etc/ssl/aop/zone-ca.pem",
		"--hostname", "www.example.com", "--hostname", "example.com", "--cert", "/etc/ssl/origin.pem", "--key", "/etc/ssl/origin.key",
		"--listen", "127.0.0.1:8443"}
	code, want, errs := runOriginCLI(t, append([]string{"origin", "render"}, flags...)...)
	if code != exitOK {
		t.Fatalf("flags: exit %d: %s", code, errs)
	}
	p := writeSpecFile(t, "server: nginx\nphase: soft\nca-file: /etc/ssl/aop/zone-ca.pem\nhostnames: [www.example.com, example.com]\n"+
		"cert: /etc/ssl/origin.pem\nkey: /etc/ssl/origin.key\nlisten: 127.0.0.1:8443\n"+
		"config: /srv/nginx/nginx.conf\ntarget: managed\n") // apply's keys: render ignores them
	code, got, errs := runOriginCLI(t, "origin", "render", "--spec", p)
	if code != exitOK || got != want {
		t.Fatalf("--spec: exit %d, stderr %s\n got:\n%s\nwant:\n%s", code, errs, got, want)
	}
	code, got, errs = runOriginCLI(t, "origin", "render", "--spec", p, "--phase", "enforce", "--hostname", "only.example.com")
	if code != exitOK || !strings.Contains(got, "ssl_verify_client on;") || !strings.Contains(got, "only.example.com") || strings.Contains(got, "www.example.com") {
		t.Fatalf("flags over --spec: exit %d, stderr %s\n%s", code, errs, got)
	}
}

// A spec file with unknown keys or bad values is bad input (exit 2), every
// problem at once, before anything is rendered or applied.
func TestOriginSpecFileBadInput(t *testing.T) {
	p := writeSpecFile(t, "server: nginx\nphse: soft\nhostnames: a.example.com\ntarget: elsewhere\n")
	for _, cmd := range []string{"render", "apply"} {
		code, out, errs := runOriginCLI(t, "origin", cmd, "--spec", p)
		if code != exitUsage || out != "" {
			t.Fatalf("%s: exit %d, stdout %q, stderr %s", cmd, code, out, errs)
		}
		for _, want := range []string{"has 3 problems", `unknown key "phse"`, "line 3: cannot unmarshal !!str `a.examp...` into []string", `target "elsewhere" is unknown`} {
			if !strings.Contains(errs, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, errs)
			}
		}
	}
	// Values of the right type but wrong for a spec: the same all-at-once
	// report as with flags.
	p = writeSpecFile(t, `{"server": "nginx", "phase": "strict", "mode": "planet", "hostnames": ["a.example.com"], "ca-file": "/ca.pem",
		"cert": "/c.pem", "key": "/k.pem"}`)
	code, _, errs := runOriginCLI(t, "origin", "render", "--spec", p)
	if code != exitUsage || !strings.Contains(errs, "2 inputs are missing or invalid") || !strings.Contains(errs, `phase "strict"`) || !strings.Contains(errs, `mode "planet"`) {
		t.Fatalf("bad values: exit %d, stderr %s", code, errs)
	}
	code, _, errs = runOriginCLI(t, "origin", "render", "--spec", filepath.Join(t.TempDir(), "none.yaml"))
	if code != exitUsage || !strings.Contains(errs, "read the origin spec file") {
		t.Fatalf("missing file: exit %d, stderr %s", code, errs)
	}
}

// apply --spec applies what the file says to a running nginx, with a flag
// given on the command line over the file's value.
func TestOriginApplySpecFile(t *testing.T) {
	t.Parallel()
	l := newCLILab(t)
	// The lab's apply flags as a spec file, minus the phase.
	var b strings.Builder
	keys := map[string]string{"hostname": "hostnames", "systemd": "systemd"}
	for i := 2; i < len(l.args); i++ {
		name, value, _ := strings.Cut(strings.TrimPrefix(l.args[i], "--"), "=")
		if value == "" && name != "systemd" {
			i++
			value = l.args[i]
		}
		if k, ok := keys[name]; ok {
			name = k
			if name == "hostnames" {
				value = "[" + value + "]"
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", name, value)
	}
	p := writeSpecFile(t, b.String()+"phase: soft\n")
	code, out, errs := runOriginCLI(t, "origin", "apply", "--spec", p, "--phase", "enforce", "--yes")
	if code != exitOK || !strings.Contains(out, "applied nginx enforce phase") {
		t.Fatalf("exit %d\nspec:\n%s\nstdout: %s\nstderr: %s", code, b.String(), out, errs)
	}
	conf, err := os.ReadFile(filepath.Join(l.dir, "conf.d", "aopwizard-example.test.conf"))
	if err != nil || !strings.Contains(string(conf), "ssl_client_certificate "+l.lab.Path(pkitest.CABFile)) || !strings.Contains(string(conf), "ssl_verify_client on;") {
		t.Errorf("the enforce config with CA B is not in place: %v\n%s", err, conf)
	}
}
