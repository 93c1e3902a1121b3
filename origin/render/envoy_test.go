package render

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// TestEnvoyRenderPassesEnvoyValidate validates the Envoy renders with
// envoy --mode validate when Envoy is installed. Debian 12 does not package
// it, so CI skips this; TestYAMLRendersParse and the golden files still
// cover the structure.
func TestEnvoyRenderPassesEnvoyValidate(t *testing.T) {
	bin, err := exec.LookPath("envoy")
	if err != nil {
		t.Skip("envoy is not installed (Debian 12 does not package it); skipping envoy --mode validate of the Envoy renders")
	}
	lab := pkitest.New(t)
	for _, phase := range []Phase{Soft, Enforce} {
		for _, mode := range []Mode{Global, Zone, Hostname} {
			spec := labSpec(t, lab, Envoy, phase, mode)
			spec.ConfDir = spec.RuntimeDir
			spec.AccessLog = filepath.Join(spec.RuntimeDir, "access.log")
			out, err := Render(spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := out.Write(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			got, err := exec.CommandContext(ctx, bin, "--mode", "validate", "-c", out.Files[0].Path).CombinedOutput()
			cancel()
			if err != nil {
				t.Errorf("envoy %s %s: envoy --mode validate failed: %v\n%s\n%s", phase, mode, err, got, out.Files[0].Content)
			}
		}
	}
}
