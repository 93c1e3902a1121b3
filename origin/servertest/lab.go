package servertest

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// LabSpec is a soft-phase, zone-mode spec for kind with the lab's server
// certificate and CA A, listening on a free loopback port, with every
// file the server writes and every fragment under dir (from Dir).
func LabSpec(t testing.TB, kind render.Server, lab *pkitest.Lab, dir, id string) render.Spec {
	t.Helper()
	spec := render.Spec{
		ID: id, Server: kind, Phase: render.Soft, Mode: render.Zone,
		Listen:         fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
		ServerCertFile: lab.Path(pkitest.ServerCert), ServerKeyFile: lab.Path(pkitest.ServerKey),
		CAFile:    lab.Path(pkitest.CAAFile),
		AccessLog: filepath.Join(dir, "access.log"), RuntimeDir: dir, ConfDir: dir,
	}
	if kind == render.HAProxy {
		spec.ServerCertFile, spec.ServerKeyFile = lab.Path(pkitest.ServerBundle), ""
	}
	return spec
}

// StartStandalone writes render.Standalone(spec) and starts it.
func StartStandalone(t testing.TB, spec render.Spec, opts ...Option) *Running {
	t.Helper()
	out, err := render.Standalone(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Write(); err != nil {
		t.Fatal(err)
	}
	return Start(t, spec.Server, out.Files[0].Path, opts...)
}
