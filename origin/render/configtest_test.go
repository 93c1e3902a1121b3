package render

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// needBinary returns the path of a server binary, skipping the test when it
// is missing (failing instead when CI demands real servers).
func needBinary(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name, "/usr/bin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("AOPWIZARD_REQUIRE_SERVERS") == "1" {
		t.Fatalf("%s is not installed but AOPWIZARD_REQUIRE_SERVERS=1: install it (apt-get install %s)", name, name)
	}
	t.Skipf("%s is not installed; skipping its config test (set AOPWIZARD_REQUIRE_SERVERS=1 to make this fail)", name)
	return ""
}

// labSpec is a spec over a fresh lab PKI: CA A for zone mode, A and B per
// hostname.
func labSpec(t *testing.T, lab *pkitest.Lab, server Server, phase Phase, mode Mode) Spec {
	t.Helper()
	// Not t.TempDir: its parent is 0700, and Apache's www-data children
	// must traverse every parent to serve the document root.
	rd, err := os.MkdirTemp("", "aopwizard-render-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rd) })
	if err := os.Chmod(rd, 0o755); err != nil {
		t.Fatal(err)
	}
	s := Spec{
		ID: "example.test", Server: server, Phase: phase, Mode: mode,
		Listen:         "127.0.0.1:18443",
		ServerCertFile: lab.Path(pkitest.ServerCert), ServerKeyFile: lab.Path(pkitest.ServerKey),
		Hosts:      []Host{{Name: "b.example.test"}, {Name: "a.example.test"}},
		RuntimeDir: rd,
	}
	if server == HAProxy {
		s.ServerCertFile, s.ServerKeyFile = lab.Path(pkitest.ServerBundle), ""
	}
	switch mode {
	case Zone:
		s.CAFile = lab.Path(pkitest.CAAFile)
	case Hostname:
		s.Hosts = []Host{{Name: "a.example.test", CAFile: lab.Path(pkitest.CAAFile)}, {Name: "b.example.test", CAFile: lab.Path(pkitest.CABFile)}}
	}
	return s
}

// configTests are each server's own config check of a standalone main
// config; rd is its runtime directory.
var configTests = map[Server]struct {
	bin  string
	args func(main, rd string) []string
}{
	Nginx: {"nginx", func(main, rd string) []string {
		return []string{"-t", "-c", main, "-e", filepath.Join(rd, "error.log")}
	}},
	Apache:  {"apache2", func(main, _ string) []string { return []string{"-t", "-f", main} }},
	HAProxy: {"haproxy", func(main, _ string) []string { return []string{"-c", "-f", main} }},
}

// configTest runs the server's config check on a written standalone output.
func configTest(t *testing.T, server Server, out *Output, rd string) ([]byte, error) {
	t.Helper()
	c := configTests[server]
	bin := needBinary(t, c.bin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, bin, c.args(out.Files[0].Path, rd)...).CombinedOutput()
}

// TestStandalonePassesServerConfigTest runs each server's own config check
// on every phase x mode: cheap, and it catches template syntax errors.
func TestStandalonePassesServerConfigTest(t *testing.T) {
	lab := pkitest.New(t)
	for _, server := range []Server{Nginx, Apache, HAProxy} {
		t.Run(string(server), func(t *testing.T) {
			t.Parallel()
			needBinary(t, configTests[server].bin)
			for _, phase := range []Phase{Soft, Enforce} {
				for _, mode := range []Mode{Global, Zone, Hostname} {
					for _, upstream := range []string{"", "http://127.0.0.1:18080"} {
						spec := labSpec(t, lab, server, phase, mode)
						spec.Upstream = upstream
						out, err := Standalone(spec)
						if err != nil {
							t.Fatal(err)
						}
						if err := out.Write(); err != nil {
							t.Fatal(err)
						}
						if got, err := configTest(t, server, out, spec.RuntimeDir); err != nil {
							t.Errorf("%s %s %s upstream=%q: config test failed: %v\n%s\nconfig:\n%s", server, phase, mode, upstream, err, got, dump(out))
						}
					}
				}
			}
		})
	}
}

func dump(out *Output) string {
	var s string
	for _, f := range out.Files {
		s += "==> " + f.Path + " <==\n" + string(f.Content)
	}
	return s
}
