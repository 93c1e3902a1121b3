package render

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Field names one input of a Spec in product terms. Front ends map it to
// where the user gives that input (a CLI flag, a wizard screen).
type Field string

// The inputs a FieldError can be about.
const (
	FieldID             Field = "managed-block id"
	FieldServer         Field = "server"
	FieldPhase          Field = "phase"
	FieldMode           Field = "mode"
	FieldListen         Field = "listen address"
	FieldServerCert     Field = "server certificate"
	FieldServerKey      Field = "server key"
	FieldCAFile         Field = "CA bundle"
	FieldHostname       Field = "hostname"
	FieldHostCA         Field = "hostname CA bundle"
	FieldClientCert     Field = "client certificate"
	FieldUpstream       Field = "upstream"
	FieldAccessLog      Field = "access log"
	FieldConfDir        Field = "configuration directory"
	FieldRuntimeDir     Field = "runtime directory"
	FieldStandalone     Field = "standalone config"
	FieldNamespace      Field = "Kubernetes namespace"
	FieldIngressBackend Field = "ingress backend"
	FieldTLSSecret      Field = "TLS secret"
)

// FieldError is one missing or invalid input of a Spec. Validate, Render
// and Standalone return every FieldError of a spec at once (errors.Join);
// FieldErrors lists them.
type FieldError struct {
	Field Field
	// Value is the input as given; empty when it is missing.
	Value string
	// Problem says what is wrong and why, e.g. "is missing: the server
	// presents it to Cloudflare in the TLS handshake".
	Problem string
	// Remedy says what to do, in product terms.
	Remedy string
	// Err is the underlying cause, if any (e.g. wrapping pki.ErrCABundle).
	Err error
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Field))
	if e.Value != "" {
		b.WriteString(" " + strconv.Quote(e.Value))
	}
	switch {
	case e.Problem != "" && e.Err != nil:
		b.WriteString(" " + e.Problem + ": " + e.Err.Error())
	case e.Problem != "":
		b.WriteString(" " + e.Problem)
	case e.Err != nil:
		b.WriteString(": " + e.Err.Error())
	}
	if e.Remedy != "" {
		b.WriteString("; " + e.Remedy)
	}
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrors returns every FieldError in err's tree, in order.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// fieldErrs collects FieldErrors.
type fieldErrs []error

func (f *fieldErrs) add(field Field, value, problem, remedy string) {
	*f = append(*f, &FieldError{Field: field, Value: value, Problem: problem, Remedy: remedy})
}

func (f *fieldErrs) wrap(field Field, value string, err error) {
	*f = append(*f, &FieldError{Field: field, Value: value, Err: err})
}

func (f fieldErrs) err() error { return errors.Join(f...) }

// ApplyDefaults fills in what a user may leave out, the same way for every
// front end: the names in lower case; the mode (zone, or hostname when a
// host has its own CA bundle); the managed-block id (the first hostname,
// without a wildcard label); the listen address (:443). outDir, when not
// empty, is the directory the files will be written to: it becomes the
// configuration directory, and for a standalone config also the runtime
// directory, unless those are set. What stays empty is reported by
// Validate.
func (s *Spec) ApplyDefaults(standalone bool, outDir string) {
	s.Server = Server(strings.ToLower(string(s.Server)))
	s.Phase = Phase(strings.ToLower(string(s.Phase)))
	s.Mode = Mode(strings.ToLower(string(s.Mode)))
	if s.Mode == "" {
		s.Mode = Zone
		if slices.ContainsFunc(s.Hosts, func(h Host) bool { return h.CAFile != "" }) {
			s.Mode = Hostname
		}
	}
	if s.ID == "" && len(s.Hosts) > 0 {
		names := make([]string, len(s.Hosts))
		for i, h := range s.Hosts {
			names[i] = strings.TrimSuffix(strings.ToLower(h.Name), ".")
		}
		s.ID = strings.TrimPrefix(slices.Min(names), "*.")
	}
	if s.Listen == "" {
		s.Listen = ":443"
	}
	if outDir != "" {
		if s.ConfDir == "" {
			s.ConfDir = outDir
		}
		if standalone && s.RuntimeDir == "" {
			s.RuntimeDir = outDir
		}
	}
}
