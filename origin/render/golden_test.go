package render

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current renderers")

// goldenSpec uses fixed paths so the output is byte-for-byte reproducible.
// Only ingress-nginx reads its CA files, which live in testdata.
func goldenSpec(t *testing.T, server Server, phase Phase, mode Mode, standalone bool) Spec {
	t.Helper()
	caA, caB := "/etc/aop/caA.pem", "/etc/aop/caB.pem"
	if server == IngressNginx {
		var err error
		if caA, err = filepath.Abs("testdata/caA.pem"); err != nil {
			t.Fatal(err)
		}
		caB = filepath.Join(filepath.Dir(caA), "caB.pem")
	}
	s := Spec{
		ID: "example.test", Server: server, Phase: phase, Mode: mode,
		Listen:         "127.0.0.1:18443",
		ServerCertFile: "/etc/aop/srv.pem", ServerKeyFile: "/etc/aop/srv.key",
		// Unsorted on purpose: output must not depend on input order.
		Hosts:     []Host{{Name: "b.example.test"}, {Name: "a.example.test"}},
		Upstream:  "http://127.0.0.1:8080",
		AccessLog: "/var/log/aop/access.log",
	}
	if standalone {
		s.RuntimeDir, s.Upstream, s.AccessLog = "/run/aop", "", ""
	}
	if server == HAProxy {
		s.ServerCertFile, s.ServerKeyFile = "/etc/aop/srv-combined.pem", ""
	}
	switch mode {
	case Zone:
		s.CAFile = caA
	case Hostname:
		s.Hosts = []Host{{Name: "b.example.test", CAFile: caB}, {Name: "a.example.test", CAFile: caA}}
	}
	return s
}

// renderText is an Output as one text: each file under a header, then the
// notes, with the testdata directory replaced by a placeholder.
func renderText(t *testing.T, out *Output) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, f := range out.Files {
		kind := ""
		if f.Block {
			kind = ", managed block"
		}
		fmt.Fprintf(&b, "==> %s (%#o%s) <==\n", f.Path, f.Mode, kind)
		if strings.HasSuffix(f.Path, GlobalCAFileName) {
			b.WriteString("(Cloudflare origin-pull CA, checked in TestGlobalModeWritesCloudflareCA)\n")
			continue
		}
		b.Write(f.Content)
	}
	b.WriteString("==> notes <==\n")
	for _, n := range out.Notes {
		b.WriteString(n + "\n")
	}
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b.Bytes(), []byte(td), []byte("@TESTDATA@"))
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the renderer's output (go test -run Golden -update rewrites it after review):\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	type variant struct {
		suffix  string
		fn      func(Spec) (*Output, error)
		servers []Server
		modes   []Mode
	}
	for _, v := range []variant{
		{"", Render, Servers, []Mode{Global, Zone, Hostname}},
		{"_standalone", Standalone, []Server{Nginx, Apache, HAProxy, Builtin}, []Mode{Zone, Hostname}},
	} {
		for _, server := range v.servers {
			for _, mode := range v.modes {
				for _, phase := range []Phase{Soft, Enforce} {
					out, err := v.fn(goldenSpec(t, server, phase, mode, v.suffix != ""))
					if err != nil {
						t.Fatalf("%s %s %s%s: %v", server, mode, phase, v.suffix, err)
					}
					checkGolden(t, fmt.Sprintf("%s_%s_%s%s", server, mode, phase, v.suffix), renderText(t, out))
				}
			}
		}
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	for _, server := range Servers {
		spec := goldenSpec(t, server, Soft, Hostname, false)
		a, err := Render(spec)
		if err != nil {
			t.Fatal(err)
		}
		spec.Hosts[0], spec.Hosts[1] = spec.Hosts[1], spec.Hosts[0]
		b, err := Render(spec)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(renderText(t, a), renderText(t, b)) {
			t.Errorf("%s: output depends on the order of the hosts", server)
		}
	}
}
