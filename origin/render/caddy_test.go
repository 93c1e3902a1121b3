package render

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// caddyIsLegacy reports whether the installed caddy predates trust_pool (2.8).
func caddyIsLegacy(t *testing.T, bin string) bool {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("caddy version: %v", err)
	}
	v := strings.TrimPrefix(strings.Fields(string(out))[0], "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		t.Fatalf("cannot read caddy version %q", out)
	}
	major, _ := strconv.Atoi(parts[0])
	minor, _ := strconv.Atoi(parts[1])
	return major < 2 || (major == 2 && minor < 8)
}

// TestCaddyRenderPassesCaddyValidate validates the rendered site blocks with
// the installed caddy, in the syntax that caddy understands (Debian 12's
// 2.6.2 only knows trusted_ca_cert_file; the default trust_pool form needs
// Caddy >= 2.8 and is covered by the golden files only).
func TestCaddyRenderPassesCaddyValidate(t *testing.T) {
	bin, err := exec.LookPath("caddy")
	if err != nil {
		// Caddy is optional even in CI: only nginx, Apache and HAProxy are required servers.
		t.Skip("caddy is not installed; skipping caddy validate of the Caddy renders")
	}
	legacy := caddyIsLegacy(t, bin)
	if legacy {
		t.Log("caddy < 2.8 installed: validating the legacy trusted_ca_cert_file syntax, not trust_pool")
	}
	lab := pkitest.New(t)
	home := t.TempDir()
	for _, phase := range []Phase{Soft, Enforce} {
		for _, mode := range []Mode{Global, Zone, Hostname} {
			spec := labSpec(t, lab, Caddy, phase, mode)
			spec.CaddyLegacy = legacy
			spec.ConfDir = spec.RuntimeDir
			spec.AccessLog = filepath.Join(spec.RuntimeDir, "access.log")
			out, err := Render(spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := out.Write(); err != nil {
				t.Fatal(err)
			}
			caddyfile := filepath.Join(spec.RuntimeDir, "Caddyfile")
			main := "{\n\tadmin off\n\tstorage file_system " + filepath.Join(home, "storage") + "\n}\nimport " + out.Files[0].Path + "\n"
			if err := os.WriteFile(caddyfile, []byte(main), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			cmd := exec.CommandContext(ctx, bin, "validate", "--adapter", "caddyfile", "--config", caddyfile)
			cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home)
			got, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				t.Errorf("caddy %s %s: caddy validate failed: %v\n%s\n%s", phase, mode, err, got, out.Files[0].Content)
			}
		}
	}
}
