package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A file written from a rollout's spec reads back as the same spec,
// overrides and target: what the exporter writes is what apply runs.
func TestRoundTrip(t *testing.T) {
	no := false
	s := render.Spec{ID: "example.com", Server: render.Nginx, Phase: render.Enforce, Mode: render.Hostname,
		Listen: "127.0.0.1:8443", ServerCertFile: "/etc/ssl/o.pem", ServerKeyFile: "/etc/ssl/o.key",
		Upstream: "http://127.0.0.1:8080", AccessLog: "/var/log/aop.log", ConfDir: "/srv/nginx",
		Hosts: []render.Host{{Name: "a.example.com", CAFile: "/etc/ssl/a-ca.pem"}, {Name: "b.example.com", CAFile: "/etc/ssl/b-ca.pem"}}}
	o := server.Overrides{Config: "/srv/nginx/nginx.conf", Binary: "/usr/sbin/nginx", TestCmd: "nginx -t", ReloadCmd: "nginx -s reload",
		PIDFile: "/run/x.pid", ErrorLog: "/var/log/e.log", Systemd: &no}
	f := FromSpec(s, o, inplace.Managed, "/var/lib/cp")
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(write(t, "origin.yaml", string(data)))
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(got.Spec(), s) {
		t.Errorf("spec:\n got %+v\nwant %+v", got.Spec(), s)
	}
	if !reflect.DeepEqual(got.Overrides(), o) {
		t.Errorf("overrides:\n got %+v\nwant %+v", got.Overrides(), o)
	}
	if got.Target != "managed" || got.CheckpointDir != "/var/lib/cp" {
		t.Errorf("target %q, checkpoint dir %q", got.Target, got.CheckpointDir)
	}
	if !strings.HasPrefix(string(data), "server: nginx\nphase: enforce\n") || !strings.Contains(string(data), "host-cas:\n  a.example.com: /etc/ssl/a-ca.pem\n") {
		t.Errorf("not the documented YAML layout:\n%s", data)
	}
}

// JSON is read too, and relative paths are relative to the file (as an
// include is), not to wherever the command runs.
func TestJSONAndRelativePaths(t *testing.T) {
	p := write(t, "origin.json", `{"server": "nginx", "phase": "soft", "hostnames": ["a.example.com"], "ca-file": "ca.pem",
		"host-cas": {"B.example.com": "b/ca.pem"}, "binary": "nginx", "systemd": true}`)
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	if f.CAFile != filepath.Join(dir, "ca.pem") || f.HostCAs["b.example.com"] != filepath.Join(dir, "b/ca.pem") {
		t.Errorf("paths not resolved against %s: %+v", dir, f)
	}
	if f.Binary != "nginx" {
		t.Errorf("binary %q: a command name is looked up in PATH, not made a path", f.Binary)
	}
	want := []Value{{"server", []string{"nginx"}}, {"phase", []string{"soft"}}, {"hostnames", []string{"a.example.com"}},
		{"host-cas", []string{"b.example.com=" + filepath.Join(dir, "b/ca.pem")}}, {"ca-file", []string{filepath.Join(dir, "ca.pem")}},
		{"binary", []string{"nginx"}}, {"systemd", []string{"true"}}}
	if got := f.Values(); !reflect.DeepEqual(got, want) {
		t.Errorf("values:\n got %v\nwant %v", got, want)
	}
}

// Every problem of a file is reported at once, each naming its key or
// line: a typo must not silently drop an input.
func TestProblemsAllAtOnce(t *testing.T) {
	p := write(t, "bad.yaml", "server: nginx\nhostname: a.example.com\nphase: [soft]\ntarget: somewhere\nlisten: :443\ncertfile: x\n")
	_, err := Load(p)
	se, ok := err.(*Error)
	if !ok {
		t.Fatalf("want *Error, got %T %v", err, err)
	}
	if len(se.Problems) != 4 {
		t.Errorf("want 4 problems, got %d: %v", len(se.Problems), err)
	}
	for _, want := range []string{p, `line 2: unknown key "hostname"`, `line 6: unknown key "certfile"`, "line 3: cannot unmarshal !!seq into string",
		`target "somewhere" is unknown`, "known keys: server, phase"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, bad := range []string{"- a\n- b\n", "server: [\n", "host-cas: {A.example.com: x, a.example.com: y}\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if f, err := Parse(nil); err != nil || len(f.Values()) != 0 {
		t.Errorf("empty file: %v %v", f, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "read the origin spec file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseErrorWithoutPath(t *testing.T) {
	_, err := Parse([]byte("bogus: 1\n"))
	if err == nil || err.Error() != `origin spec: line 1: unknown key "bogus" (known keys: `+strings.Join(Keys, ", ")+")" {
		t.Errorf("got %v", err)
	}
}
