package inplace_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/cfca"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/sites"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// HAProxy discovery reads haproxy.cfg and the certificates' names, with no
// server running: the target choice for each kind of configuration.
func TestChooseTarget(t *testing.T) {
	lab := pkitest.New(t)
	frontend := "frontend fe_tls\n    bind 127.0.0.1:8443 ssl crt " + lab.Path(pkitest.ServerBundle) + "\n    default_backend app\n"
	backend := "backend app\n    server app 127.0.0.1:8080\n"
	cases := []struct {
		name, cfg string
		hosts     []string
		managedOK bool
		want      inplace.Target
		err       error
	}{
		{"the operator's frontend", frontend + backend, []string{"a.example.test"}, true, inplace.Existing, nil},
		{"aopwizard's own managed block", "# BEGIN aopwizard example.test\n" + frontend + "# END aopwizard example.test\n" + backend,
			[]string{"a.example.test"}, false, inplace.Managed, nil},
		{"another id's in-place region is the operator's block", "# BEGIN aopwizard example.test/1\n" + frontend + "# END aopwizard example.test/1\n" + backend,
			[]string{"a.example.test"}, false, inplace.Existing, nil},
		{"no block, a certificate for a new one", backend, []string{"a.example.test"}, true, inplace.Managed, nil},
		{"no block, no certificate", backend, []string{"a.example.test"}, false, "", inplace.ErrNoBlock},
		{"no hostname, no certificate: managed says what it needs", backend, nil, false, inplace.Managed, nil},
		{"some hostnames have a block", frontend + backend, []string{"a.example.test", "other.test"}, true, "", inplace.ErrNoBlock},
		{"no hostname", backend, nil, true, inplace.Managed, nil},
	}
	for _, c := range cases {
		cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(cfg, []byte(c.cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		d, _ := server.Debian(render.HAProxy)
		d.SetConfigPath(cfg)
		got, err := inplace.ChooseTarget(context.Background(), server.NewExecRunner(nil), d, "example.test", c.hosts, c.managedOK)
		if got.Target != c.want || !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Errorf("%s: got %q (%s), %v; want %q, %v", c.name, got.Target, got.Why, err, c.want, c.err)
		}
	}
}

func TestInputFor(t *testing.T) {
	dir := t.TempDir()
	in, extra, err := inplace.InputFor(render.Spec{Server: render.Nginx, ID: "example.test", Phase: render.Soft, Mode: render.Global, ConfDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, render.GlobalCAFileName)
	if in.CAFile != ca || in.AccessLog != "/var/log/nginx/aopwizard-example.test.log" || len(extra) != 1 ||
		extra[0].Path != ca || !bytes.Equal(extra[0].Content, cfca.PEM()) || extra[0].Original != apply.Absent {
		t.Errorf("global mode: %+v, %+v", in, extra)
	}
	in, extra, _ = inplace.InputFor(render.Spec{Server: render.Apache, ID: "z", Phase: render.Enforce, Mode: render.Hostname,
		Hosts: []render.Host{{Name: "A.example.test", CAFile: "/ca/a.pem"}}, AccessLog: "/l/aop.log"})
	if in.HostCAFiles["a.example.test"] != "/ca/a.pem" || in.AccessLog != "/l/aop.log" || len(extra) != 0 {
		t.Errorf("hostname mode: %+v, %+v", in, extra)
	}
}

func TestPlanChangesAndListenerTargets(t *testing.T) {
	p := &inplace.Plan{Edits: []inplace.FileEdit{{Path: "/a", Old: []byte("x"), New: []byte("y")}, {Path: "/b", New: []byte("z"), Created: true}}}
	ch := p.Changes()
	if len(ch) != 2 || ch[0].Original != apply.OriginalOf([]byte("x")) || ch[1].Original != apply.Absent || ch[1].Mode != 0o644 {
		t.Errorf("changes: %+v", ch)
	}
	block := func(listen ...string) sites.Found { return sites.Found{Block: sites.Block{Listen: listen}} }
	hosts := []sites.Host{{Hostname: "a.example.test", Blocks: []sites.Found{block("127.0.0.1:8443 ssl"), block("[::1]:8443 ssl", "127.0.0.1:8443 ssl")}}}
	perHost := []apply.Target{{Addr: "127.0.0.1:443", SNI: "A.example.test", Phase: render.Soft}, {Addr: "127.0.0.1:443", SNI: "b.example.test"}}
	got := inplace.ListenerTargets(hosts, perHost)
	if len(got) != 2 || got[0].Addr != "127.0.0.1:8443" || got[1].Addr != "[::1]:8443" || got[0].Phase != render.Soft || got[1].SNI != "A.example.test" {
		t.Errorf("targets: %+v", got)
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]inplace.Target{"": "", "Existing": inplace.Existing, "managed": inplace.Managed} {
		if got, err := inplace.ParseTarget(in); got != want || err != nil {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	if _, err := inplace.ParseTarget("new"); err == nil {
		t.Error("an unknown target was accepted")
	}
}

// Per-hostname CAs on a bind line that loads a certificate directory
// cannot be written as aopwizard's crt-list: the refusal says what works.
// A file relative to crt-base is found.
func TestHAProxyHostnameModeCrtForms(t *testing.T) {
	lab := pkitest.New(t)
	for _, c := range []struct{ name, global, crt, want string }{
		{"directory", "", lab.Dir, "the bind line loads every certificate in the directory " + lab.Dir + " (crt DIR)"},
		{"missing file", "", "/no/such.pem", "read the bind line's certificate /no/such.pem"},
		{"relative to crt-base", "global\n    crt-base " + lab.Dir + "\n", pkitest.ServerBundle, ""},
	} {
		cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
		src := c.global + "frontend fe\n    bind 127.0.0.1:8443 ssl crt " + c.crt + "\n    default_backend app\nbackend app\n    server app 127.0.0.1:8080\n"
		if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		hc, err := sites.LoadHAProxy(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var blocks []sites.Found
		for _, b := range hc.Config().Blocks {
			blocks = append(blocks, sites.Found{Block: b.Block, Hostname: "a.example.test", Match: sites.Exact})
		}
		_, err = inplace.PlanHAProxy(hc, inplace.Input{ID: "example.test", Phase: render.Soft, Mode: render.Hostname, AccessLog: "/var/log/haproxy.log",
			HostCAFiles: map[string]string{"a.example.test": lab.Path(pkitest.CAAFile)}, Blocks: blocks})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		case c.name == "directory" && !strings.Contains(err.Error(), "use zone mode instead"):
			t.Errorf("the refusal does not say what works: %v", err)
		}
	}
}
