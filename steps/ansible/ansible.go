// Package ansible exports the origin side of rollouts as an Ansible
// playbook and role, so a fleet of origin servers (a pool behind a load
// balancer) gets the same config the rollout applied to one: each host gets
// the CA bundles and the rollout's origin spec file, runs `aopwizard origin
// apply --spec` (with its checkpoint, config test and automatic restore) one
// host at a time, and is probed. Everything is generated as YAML data with
// yaml.v3, never by pasting values into text.
package ansible

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/google/renameio/v2"
	"go.yaml.in/yaml/v3"

	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/spec"
	"github.com/aopwizard/aopwizard/steps"
)

// Role is the name of the generated role.
const Role = "aopwizard_origin"

// Tags select the phase a run applies: soft runs by default, enforce only
// when asked for (it is tagged never as well), so a plain run can never
// start refusing requests.
const (
	TagSoft    = "soft"
	TagEnforce = "enforce"
)

// ErrGroup is an inventory group name Ansible would not take as one group.
var ErrGroup = errors.New("the inventory group name must be letters, digits and underscores, not starting with a digit")

var groupRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckGroup reports a group name Ansible would not take as one group.
func CheckGroup(group string) error {
	if !groupRe.MatchString(group) {
		return fmt.Errorf("%w: %q", ErrGroup, group)
	}
	return nil
}

// File is one generated file, relative to the output directory.
type File struct {
	Path    string
	Content []byte
}

// Export generates the playbook (site.yml, one play per rollout on group),
// the role, each rollout's variables (vars/<id>.yml) and a copy of its CA
// bundles (public certificates only; never a key).
func Export(rollouts []*steps.Rollout, group string) ([]File, error) {
	if err := CheckGroup(group); err != nil {
		return nil, err
	}
	var files []File
	var plays []any
	for _, r := range rollouts {
		vars, cas, err := rolloutVars(r)
		if err != nil {
			return nil, fmt.Errorf("rollout %s: %w", r.ID, err)
		}
		varsYAML, err := marshal(vars)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: path.Join("vars", r.ID+".yml"), Content: varsYAML})
		files = append(files, cas...)
		plays = append(plays, omap{
			{"name", fmt.Sprintf("Authenticated Origin Pulls at the origins of %s (rollout %s)", r.Inputs.Zone, r.ID)},
			{"hosts", group},
			// One host at a time, and the first failure stops the wave:
			// the hosts after it keep their config.
			{"serial", 1},
			{"max_fail_percentage", 0},
			{"vars_files", []string{path.Join("vars", r.ID+".yml")}},
			{"roles", []string{Role}},
		})
	}
	for _, doc := range []struct {
		path string
		v    any
	}{
		{"site.yml", plays},
		{path.Join("roles", Role, "defaults", "main.yml"), defaults()},
		{path.Join("roles", Role, "tasks", "main.yml"), tasks()},
	} {
		b, err := marshal(doc.v)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: doc.path, Content: b})
	}
	return files, nil
}

// Write writes the files under dir atomically, creating directories.
func Write(dir string, files []File) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		if err := renameio.WriteFile(p, f.Content, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}

// rolloutDir is where a host keeps a rollout's CA bundles and spec files.
const rolloutDir = "{{ aopwizard_etc_dir }}/{{ aopwizard_rollout }}"

// rolloutVars are the play variables of one rollout: its origin spec
// (without the phase, which each tag adds), the CA bundles to copy, and
// the probes.
func rolloutVars(r *steps.Rollout) (omap, []File, error) {
	s := r.OriginSpec("")
	if s.Server == "" {
		return nil, nil, errors.New("it names no origin server kind (nginx, apache or haproxy), which the origin apply on each host needs")
	}
	var cas []File
	var bundles []omap
	// copyCA copies one CA bundle into the role and returns its path on
	// the hosts. Each gets a numbered name: two hostnames' bundles may
	// share a base name in different directories.
	copyCA := func(src string) (string, error) {
		b, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("read its CA bundle: %w", err)
		}
		name := fmt.Sprintf("%d-%s", len(bundles)+1, filepath.Base(src))
		cas = append(cas, File{Path: path.Join("roles", Role, "files", r.ID, name), Content: b})
		bundles = append(bundles, omap{{"src", path.Join(r.ID, name)}, {"dest", name}})
		return rolloutDir + "/" + name, nil
	}
	caPaths := map[string]string{}
	hostPath := func(src string) (string, error) {
		if p, ok := caPaths[src]; ok {
			return p, nil
		}
		p, err := copyCA(src)
		caPaths[src] = p
		return p, err
	}
	f := spec.FromSpec(s, r.OriginOverrides(), inplace.Managed, r.Inputs.Origin.CheckpointDir)
	var err error
	if f.CAFile != "" {
		if f.CAFile, err = hostPath(f.CAFile); err != nil {
			return nil, nil, err
		}
	}
	for _, h := range slices.Sorted(maps.Keys(f.HostCAs)) {
		if f.HostCAs[h], err = hostPath(f.HostCAs[h]); err != nil {
			return nil, nil, err
		}
	}
	specNode, err := unsafeNode(f)
	if err != nil {
		return nil, nil, err
	}
	return omap{
		{"aopwizard_rollout", r.ID},
		{"aopwizard_zone", unsafe(r.Inputs.Zone)},
		{"aopwizard_listen_port", port(s.Listen)},
		{"aopwizard_ca_bundles", bundles},
		{"aopwizard_spec", specNode},
		{"aopwizard_probes", probes(r)},
	}, cas, nil
}

// probes are the arguments of one probe per certificate of the rollout:
// its hostnames as SNIs and, when its key is at hand on the controller,
// the certificate the origin must accept.
func probes(r *steps.Rollout) [][]unsafe {
	var out [][]unsafe
	for _, c := range r.Certificates {
		hosts := r.CertHostnames(c)
		var args []unsafe
		for _, h := range hosts {
			args = append(args, "--sni", unsafe(h))
		}
		if c.CertFile != "" && c.KeyFile != "" {
			args = append(args, "--cert", unsafe(c.CertFile), "--key", unsafe(c.KeyFile))
		}
		out = append(out, args)
	}
	return out
}

// defaults are the role's variables an inventory may set per host or group.
func defaults() omap {
	return omap{
		// The aopwizard binary on the hosts, and on the host the probes
		// run from.
		{"aopwizard_bin", "aopwizard"},
		{"aopwizard_probe_bin", "{{ aopwizard_bin }}"},
		// Where each host keeps the CA bundles and spec files, per rollout.
		{"aopwizard_etc_dir", "/etc/aopwizard"},
		// Spec keys that differ on a host (its config, listen address,
		// certificate paths, …), over the rollout's spec.
		{"aopwizard_spec_host", omap{}},
		// The probes run where the rollout's client certificate and key
		// are: the controller, reaching each host as Cloudflare does.
		{"aopwizard_probe_from", "localhost"},
		{"aopwizard_probe_origin", "{{ ansible_host | default(inventory_hostname) }}:{{ aopwizard_listen_port }}"},
	}
}

// tasks: the CA bundles first (both phases need them), then per phase the
// spec file, the apply and the probes.
func tasks() []omap {
	both := []string{TagSoft, TagEnforce}
	t := []omap{
		{
			{"name", "Create the rollout's directory"},
			{"ansible.builtin.file", omap{{"path", rolloutDir}, {"state", "directory"}, {"mode", "0755"}}},
			{"tags", both},
		},
		{
			{"name", "Copy the CA bundles"},
			{"ansible.builtin.copy", omap{{"src", "{{ item.src }}"}, {"dest", rolloutDir + "/{{ item.dest }}"}, {"mode", "0644"}}},
			{"loop", "{{ aopwizard_ca_bundles }}"},
			{"loop_control", omap{{"label", "{{ item.dest }}"}}},
			{"tags", both},
		},
	}
	t = append(t, phaseTasks(render.Soft, []string{TagSoft})...)
	return append(t, phaseTasks(render.Enforce, []string{TagEnforce, "never"})...)
}

func phaseTasks(phase render.Phase, tags []string) []omap {
	p := string(phase)
	specFile := rolloutDir + "/" + p + ".yaml"
	result := "aopwizard_" + p
	return []omap{
		{
			{"name", "Write the " + p + "-phase origin spec"},
			{"ansible.builtin.copy", omap{
				{"content", "{{ aopwizard_spec | combine(aopwizard_spec_host, {'phase': '" + p + "'}) | to_nice_yaml }}"},
				{"dest", specFile}, {"mode", "0644"},
			}},
			{"tags", tags},
		},
		{
			// origin apply tests the config before and after, reloads,
			// checks the listener and restores the host on any failure.
			{"name", "Apply the " + p + " phase"},
			{"ansible.builtin.command", omap{{"argv", []string{"{{ aopwizard_bin }}", "origin", "apply", "--spec", specFile, "--yes"}}}},
			{"register", result},
			{"changed_when", "'no changes' not in " + result + ".stdout"},
			{"tags", tags},
		},
		{
			{"name", "Probe the " + p + " phase"},
			{"ansible.builtin.command", omap{{"argv",
				"{{ [aopwizard_probe_bin, 'probe', '--origin', aopwizard_probe_origin, '--expect', '" + p + "'] + item }}"}}},
			{"loop", "{{ aopwizard_probes }}"},
			{"delegate_to", "{{ aopwizard_probe_from }}"},
			{"changed_when", false},
			{"tags", tags},
		},
	}
}

// omap is a YAML mapping that keeps its keys in order (name first, as
// people write tasks).
type omap []kv

type kv struct {
	k string
	v any
}

func (m omap) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range m {
		var v yaml.Node
		if err := v.Encode(e.v); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: e.k}, &v)
	}
	return n, nil
}

// unsafe is a value from the rollout: tagged !unsafe, so Ansible passes it
// on as it is and never evaluates a "{{" in it as a template.
type unsafe string

func (u unsafe) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!unsafe", Value: string(u), Style: yaml.SingleQuotedStyle}, nil
}

// unsafeNode encodes the spec file with every value from the rollout
// !unsafe; only the CA bundle paths, which name the host's rollout
// directory, stay templates.
func unsafeNode(f *spec.File) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(f); err != nil {
		return nil, fmt.Errorf("encode the origin spec: %w", err)
	}
	var walk func(n *yaml.Node, template bool)
	walk = func(n *yaml.Node, template bool) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				walk(n.Content[i+1], template || k == "ca-file" || k == "host-cas")
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, template)
			}
		case yaml.ScalarNode:
			if n.Tag == "!!str" && !template {
				n.Tag, n.Style = "!unsafe", yaml.SingleQuotedStyle
			}
		}
	}
	walk(&n, false)
	return &n, nil
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("---\n# Generated by aopwizard export ansible.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode the playbook: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode the playbook: %w", err)
	}
	return b.Bytes(), nil
}

// port is the port of a listen address, "443" when it has none.
func port(listen string) string {
	if _, p, err := net.SplitHostPort(listen); err == nil {
		if _, err := strconv.Atoi(p); err == nil {
			return p
		}
	}
	return "443"
}
