package render

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// Issue 7, defect 8: a spec without its files named only the first
// ("server certificate "" must be an absolute path"). Every missing input
// is reported at once, each as a FieldError saying what and why.
func TestValidateReportsEveryMissingInput(t *testing.T) {
	err := Spec{Server: Nginx, Phase: Soft, Mode: Zone, Listen: ":443"}.Validate()
	var got []Field
	for _, fe := range FieldErrors(err) {
		got = append(got, fe.Field)
		if fe.Value == "" && !strings.Contains(fe.Error(), "is missing: ") {
			t.Errorf("%s: %q does not say it is missing and why", fe.Field, fe.Error())
		}
	}
	want := []Field{FieldID, FieldServerCert, FieldServerKey, FieldCAFile}
	for _, f := range want {
		if !slices.Contains(got, f) {
			t.Errorf("Validate() = %v; it does not report %s (got %v)", err, f, got)
		}
	}
	if strings.Contains(err.Error(), `""`) {
		t.Errorf("error quotes an empty value instead of saying it is missing: %v", err)
	}
	if strings.Contains(err.Error(), "--") {
		t.Errorf("library error names a CLI flag: %v", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("errors.As finds no FieldError in %v", err)
	}
}

// The defaults every front end shares live here, not in cmd.
func TestApplyDefaults(t *testing.T) {
	s := Spec{Server: "NGINX", Phase: "Soft", Hosts: []Host{{Name: "www.Example.com"}, {Name: "*.example.com"}}}
	s.ApplyDefaults(false, "/out")
	if s.Server != Nginx || s.Phase != Soft || s.Mode != Zone || s.ID != "example.com" || s.Listen != ":443" || s.ConfDir != "/out" || s.RuntimeDir != "" {
		t.Errorf("ApplyDefaults: %+v", s)
	}
	s = Spec{Hosts: []Host{{Name: "a.example.com", CAFile: "/a.pem"}}, ConfDir: "/etc/x"}
	s.ApplyDefaults(true, "/out")
	if s.Mode != Hostname || s.ID != "a.example.com" || s.ConfDir != "/etc/x" || s.RuntimeDir != "/out" {
		t.Errorf("ApplyDefaults with a host CA, standalone: %+v", s)
	}
}

// Issue 7, defect 2: a client certificate (CA:FALSE) given as the CA
// bundle rendered fine, and the enforce phase then rejected Cloudflare.
func TestCABundleIsChecked(t *testing.T) {
	lab := pkitest.New(t)
	s := labSpec(t, lab, Nginx, Enforce, Zone)
	s.CAFile = lab.Path("clientA.pem")
	_, err := Render(s)
	fes := FieldErrors(err)
	if len(fes) != 1 || fes[0].Field != FieldCAFile || !errors.Is(err, pki.ErrCABundle) || !strings.Contains(err.Error(), "not a CA") {
		t.Fatalf("leaf as CA bundle: %v", err)
	}
	// Hostname mode checks each hostname's bundle.
	h := labSpec(t, lab, HAProxy, Enforce, Hostname)
	h.Hosts[1].CAFile = lab.Path("clientB.pem")
	if fes := FieldErrors(h.Validate()); len(fes) != 1 || fes[0].Field != FieldHostCA {
		t.Errorf("leaf as a hostname's CA bundle: %v", fes)
	}

	// The client certificate must chain to the bundle.
	s = labSpec(t, lab, Nginx, Enforce, Zone)
	s.ClientCertFile = lab.Path("clientB.pem")
	err = s.Validate()
	if fes := FieldErrors(err); len(fes) != 1 || fes[0].Field != FieldClientCert || !errors.Is(err, pki.ErrClientNotTrusted) {
		t.Errorf("client certificate from another CA: %v", err)
	}
	s.ClientCertFile = lab.Path("clientA.pem")
	out, err := Render(s)
	if err != nil {
		t.Fatalf("right client certificate refused: %v", err)
	}
	// The lab CAs last 30 days: under the warning threshold.
	if !slices.ContainsFunc(out.Notes, func(n string) bool { return strings.Contains(n, "expires on") }) {
		t.Errorf("no expiry warning in notes: %q", out.Notes)
	}

	// A bundle not on this machine is noted, not refused: render may
	// write for another host. A client certificate cannot be checked then.
	s = labSpec(t, lab, Nginx, Enforce, Zone)
	s.CAFile = filepath.Join(t.TempDir(), "elsewhere.pem")
	out, err = Render(s)
	if err != nil || !slices.ContainsFunc(out.Notes, func(n string) bool { return strings.Contains(n, "not on this machine") }) {
		t.Errorf("missing bundle: %v, notes %q", err, out.Notes)
	}
	s.ClientCertFile = lab.Path("clientA.pem")
	if fes := FieldErrors(s.Validate()); len(fes) != 1 || fes[0].Field != FieldClientCert {
		t.Errorf("client certificate against a missing bundle: %v", fes)
	}

	// A directory is no bundle.
	s.CAFile, s.ClientCertFile = lab.Dir, ""
	if fes := FieldErrors(s.Validate()); len(fes) != 1 || fes[0].Field != FieldCAFile {
		t.Errorf("directory as bundle: %v", fes)
	}
}

// A wrong CA bundle is reported with the other problems, not after them.
func TestCABundleErrorComesWithTheOthers(t *testing.T) {
	lab := pkitest.New(t)
	s := labSpec(t, lab, Nginx, Enforce, Zone)
	s.CAFile, s.ServerCertFile = lab.Path("clientA.pem"), ""
	var got []Field
	for _, fe := range FieldErrors(s.Validate()) {
		got = append(got, fe.Field)
	}
	if !slices.Equal(got, []Field{FieldServerCert, FieldCAFile}) {
		t.Errorf("fields %v, want the missing certificate and the wrong CA bundle", got)
	}
}
