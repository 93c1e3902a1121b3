// Package spec is the origin spec file: everything `origin render` and
// `origin apply` take about one origin (the site, the phase, the server's
// layout and the target), in a YAML or JSON file, so any engine that can
// copy a file and run a command (Ansible, an SSH loop, Salt, a Kubernetes
// job) applies exactly what a rollout decided. Its keys are the names the
// same inputs have on the command line.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// File is an origin spec file. Empty fields are left to the command line
// and the defaults.
type File struct {
	Server string `yaml:"server,omitempty"`
	Phase  string `yaml:"phase,omitempty"`
	Mode   string `yaml:"mode,omitempty"`
	ID     string `yaml:"id,omitempty"`
	// Hostnames are the names served; HostCAs maps a hostname to its own
	// CA bundle (hostname mode) and adds it to Hostnames.
	Hostnames  []string          `yaml:"hostnames,omitempty"`
	HostCAs    map[string]string `yaml:"host-cas,omitempty"`
	CAFile     string            `yaml:"ca-file,omitempty"`
	ClientCert string            `yaml:"client-cert,omitempty"`
	Listen     string            `yaml:"listen,omitempty"`
	Cert       string            `yaml:"cert,omitempty"`
	Key        string            `yaml:"key,omitempty"`
	Upstream   string            `yaml:"upstream,omitempty"`
	AccessLog  string            `yaml:"access-log,omitempty"`
	ConfDir    string            `yaml:"conf-dir,omitempty"`
	// Target is existing or managed (see origin/inplace).
	Target string `yaml:"target,omitempty"`

	// The server's layout (server.Overrides) and where checkpoints live.
	Config        string `yaml:"config,omitempty"`
	Binary        string `yaml:"binary,omitempty"`
	TestCmd       string `yaml:"test-cmd,omitempty"`
	ReloadCmd     string `yaml:"reload-cmd,omitempty"`
	PIDFile       string `yaml:"pid-file,omitempty"`
	ErrorLog      string `yaml:"error-log,omitempty"`
	CheckpointDir string `yaml:"checkpoint-dir,omitempty"`
	Systemd       *bool  `yaml:"systemd,omitempty"`
}

// Keys lists every key a spec file may have, in the order Values and
// Marshal use.
var Keys = keysOf()

func keysOf() []string {
	var keys []string
	for _, v := range (&File{}).fields() {
		keys = append(keys, v.Key)
	}
	return keys
}

// Value is one key of a file with its values as text: one per hostname,
// HOST=PATH per host CA, "true"/"false" for systemd.
type Value struct {
	Key    string
	Values []string
}

// fields pairs each key with a pointer to its string field; the three
// keys that are not plain strings have nil and are handled by name.
func (f *File) fields() []struct {
	Key string
	Ptr *string
} {
	return []struct {
		Key string
		Ptr *string
	}{
		{"server", &f.Server}, {"phase", &f.Phase}, {"mode", &f.Mode}, {"id", &f.ID},
		{"hostnames", nil}, {"host-cas", nil}, {"ca-file", &f.CAFile}, {"client-cert", &f.ClientCert},
		{"listen", &f.Listen}, {"cert", &f.Cert}, {"key", &f.Key}, {"upstream", &f.Upstream},
		{"access-log", &f.AccessLog}, {"conf-dir", &f.ConfDir}, {"target", &f.Target},
		{"config", &f.Config}, {"binary", &f.Binary}, {"test-cmd", &f.TestCmd}, {"reload-cmd", &f.ReloadCmd},
		{"pid-file", &f.PIDFile}, {"error-log", &f.ErrorLog}, {"checkpoint-dir", &f.CheckpointDir},
		{"systemd", nil},
	}
}

// pathKeys are the keys that name files or directories: relative ones are
// resolved against the spec file's directory, as an include would be.
var pathKeys = []string{"ca-file", "client-cert", "cert", "key", "access-log", "conf-dir",
	"config", "pid-file", "error-log", "checkpoint-dir"}

// Values lists the keys the file sets, in Keys order.
func (f *File) Values() []Value {
	var out []Value
	for _, fd := range f.fields() {
		var vals []string
		switch {
		case fd.Ptr != nil:
			if *fd.Ptr != "" {
				vals = []string{*fd.Ptr}
			}
		case fd.Key == "hostnames":
			vals = slices.Clone(f.Hostnames)
		case fd.Key == "host-cas":
			for _, h := range slices.Sorted(maps.Keys(f.HostCAs)) {
				vals = append(vals, h+"="+f.HostCAs[h])
			}
		case fd.Key == "systemd" && f.Systemd != nil:
			vals = []string{strconv.FormatBool(*f.Systemd)}
		}
		if len(vals) > 0 {
			out = append(out, Value{Key: fd.Key, Values: vals})
		}
	}
	return out
}

// Error is a spec file that cannot be used: every problem at once.
type Error struct {
	Path     string
	Problems []string
}

func (e *Error) Error() string {
	what := "origin spec"
	if e.Path != "" {
		what = "origin spec file " + e.Path
	}
	if len(e.Problems) == 1 {
		return fmt.Sprintf("%s: %s", what, e.Problems[0])
	}
	return fmt.Sprintf("%s has %d problems:\n  - %s", what, len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// Load reads a spec file (YAML, or JSON, which is YAML too). Unknown keys,
// values of the wrong type and an unknown target are reported together.
// Relative paths are made absolute against the file's directory.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the origin spec file: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			se.Path = path
		}
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("origin spec file %s: %w", path, err)
	}
	f.resolve(dir)
	return f, nil
}

// Parse reads a spec file's content; relative paths stay as they are.
func Parse(data []byte) (*File, error) {
	f := &File{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Problems: []string{fmt.Sprintf("not YAML or JSON: %v", err)}}
	}
	if len(doc.Content) == 0 {
		return f, nil // an empty file sets nothing
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{Problems: []string{fmt.Sprintf("line %d: want a mapping of keys (server: nginx, phase: soft, …)", root.Line)}}
	}
	var problems []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if !slices.Contains(Keys, k.Value) {
			problems = append(problems, fmt.Sprintf("line %d: unknown key %q (known keys: %s)", k.Line, k.Value, strings.Join(Keys, ", ")))
		}
	}
	if err := root.Decode(f); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &Error{Problems: append(problems, err.Error())}
		}
		problems = append(problems, te.Errors...)
	}
	if _, err := inplace.ParseTarget(f.Target); err != nil {
		problems = append(problems, err.Error())
	}
	hostCAs := map[string]string{}
	for _, h := range slices.Sorted(maps.Keys(f.HostCAs)) {
		p, lower := f.HostCAs[h], strings.ToLower(h)
		if _, dup := hostCAs[lower]; dup {
			problems = append(problems, fmt.Sprintf("host-cas names %s twice: give one CA bundle per hostname", lower))
		}
		if h == "" || p == "" {
			problems = append(problems, fmt.Sprintf("host-cas: %q: %q needs both a hostname and a CA bundle path", h, p))
		}
		hostCAs[lower] = p
	}
	if f.HostCAs != nil {
		f.HostCAs = hostCAs
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return f, nil
}

func (f *File) resolve(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for _, fd := range f.fields() {
		if fd.Ptr != nil && slices.Contains(pathKeys, fd.Key) {
			*fd.Ptr = abs(*fd.Ptr)
		}
	}
	for h, p := range f.HostCAs {
		f.HostCAs[h] = abs(p)
	}
}

// Marshal writes the file as YAML, keys in Keys order.
func (f *File) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode the origin spec: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode the origin spec: %w", err)
	}
	return b.Bytes(), nil
}

// Spec is the render.Spec the file describes, before defaults.
func (f *File) Spec() render.Spec {
	s := render.Spec{
		ID: f.ID, Server: render.Server(f.Server), Phase: render.Phase(f.Phase), Mode: render.Mode(f.Mode),
		Listen: f.Listen, ServerCertFile: f.Cert, ServerKeyFile: f.Key, CAFile: f.CAFile,
		ClientCertFile: f.ClientCert, Upstream: f.Upstream, AccessLog: f.AccessLog, ConfDir: f.ConfDir,
	}
	names := slices.Clone(f.Hostnames)
	for h := range f.HostCAs {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, h) }) {
			names = append(names, h)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		s.Hosts = append(s.Hosts, render.Host{Name: n, CAFile: f.HostCAs[strings.ToLower(n)]})
	}
	return s
}

// Overrides are the server layout the file sets.
func (f *File) Overrides() server.Overrides {
	return server.Overrides{Config: f.Config, Binary: f.Binary, TestCmd: f.TestCmd, ReloadCmd: f.ReloadCmd,
		PIDFile: f.PIDFile, ErrorLog: f.ErrorLog, Systemd: f.Systemd}
}

// FromSpec is the file for spec, applied with o to target, keeping its
// checkpoints in checkpointDir ("" for the default).
func FromSpec(s render.Spec, o server.Overrides, target inplace.Target, checkpointDir string) *File {
	f := &File{
		Server: string(s.Server), Phase: string(s.Phase), Mode: string(s.Mode), ID: s.ID,
		CAFile: s.CAFile, ClientCert: s.ClientCertFile, Listen: s.Listen, Cert: s.ServerCertFile, Key: s.ServerKeyFile,
		Upstream: s.Upstream, AccessLog: s.AccessLog, ConfDir: s.ConfDir, Target: string(target),
		Config: o.Config, Binary: o.Binary, TestCmd: o.TestCmd, ReloadCmd: o.ReloadCmd, PIDFile: o.PIDFile,
		ErrorLog: o.ErrorLog, CheckpointDir: checkpointDir, Systemd: o.Systemd,
	}
	for _, h := range s.Hosts {
		if h.CAFile == "" {
			f.Hostnames = append(f.Hostnames, h.Name)
			continue
		}
		if f.HostCAs == nil {
			f.HostCAs = map[string]string{}
		}
		f.HostCAs[strings.ToLower(h.Name)] = h.CAFile
	}
	return f
}
