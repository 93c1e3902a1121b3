package inplace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/cfca"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/sites"
)

// Target is where `origin apply` puts client-certificate verification.
type Target string

// Targets.
const (
	// Existing edits the operator's own TLS blocks in place (this package).
	Existing Target = "existing"
	// Managed writes aopwizard's own complete server block (origin/render):
	// for a hostname no site serves yet, tests and demos.
	Managed Target = "managed"
)

// ParseTarget reads a target name; "" is the automatic choice (ChooseTarget).
func ParseTarget(s string) (Target, error) {
	switch t := Target(strings.ToLower(s)); t {
	case "", Existing, Managed:
		return t, nil
	}
	return "", fmt.Errorf("target %q is unknown: use existing (edit the site that serves the hostnames) or managed (a new server block written by aopwizard)", s)
}

// Choice is the target chosen for a rollout, with what discovery found.
type Choice struct {
	Target Target
	// Hosts is the discovery result per hostname (empty when no hostname
	// was given).
	Hosts []sites.Host
	// Why says in one line why this target was chosen.
	Why string
}

// ChooseTarget picks the default target for hostnames on d's server:
// Existing when every hostname has a TLS block the operator wrote, Managed
// when none has one and managedOK (the new block has a certificate to
// serve), when the only blocks are aopwizard's own managed block for id
// (re-applying replaces it), or when no hostname is given. Otherwise the error wraps ErrNoBlock and names
// each hostname without a block and why it has none.
func ChooseTarget(ctx context.Context, r server.Runner, d *server.Driver, id string, hostnames []string, managedOK bool) (Choice, error) {
	if len(hostnames) == 0 {
		// What a managed block still needs is reported by its own checks.
		return Choice{Target: Managed, Why: "no hostname given, so there is no existing site to look up"}, nil
	}
	cfg, err := sites.Discover(ctx, r, d)
	if err != nil {
		return Choice{}, err
	}
	c := Choice{Hosts: cfg.Lookup(hostnames)}
	var missing, have, managed []string
	for _, h := range c.Hosts {
		switch {
		case len(h.Blocks) == 0:
			missing = append(missing, h.Hostname+" ("+h.Detail+")")
		case allManaged(h.Blocks, id):
			managed = append(managed, h.Hostname)
		default:
			have = append(have, h.Hostname)
		}
	}
	switch {
	case len(missing) == 0 && len(managed) == 0:
		c.Target, c.Why = Existing, "the site's own TLS blocks serve "+strings.Join(have, ", ")+": adding verification to them in place"
		return c, nil
	case len(have) == 0 && len(missing) == 0:
		c.Target, c.Why = Managed, "aopwizard's own block "+id+" serves "+strings.Join(managed, ", ")+": re-applying replaces it"
		return c, nil
	case len(have) == 0 && managedOK:
		c.Target, c.Why = Managed, "no TLS block serves "+strings.Join(hostnames, ", ")+": writing a new server block for them"
		return c, nil
	}
	err = fmt.Errorf("%w: %s", ErrNoBlock, strings.Join(missing, "; "))
	if len(have) > 0 {
		err = fmt.Errorf("%w; %s have a TLS block and %s would then be served twice: give every hostname TLS in its site first, or apply the others on their own",
			err, strings.Join(have, ", "), "a new block")
	}
	return c, err
}

// allManaged reports whether every block lies inside aopwizard's own
// managed block for id (not an in-place region, whose id has a "/n").
func allManaged(blocks []sites.Found, id string) bool {
	for _, b := range blocks {
		if !inManagedBlock(b.RealFile, b.Line, id) {
			return false
		}
	}
	return true
}

func inManagedBlock(path string, line int, id string) bool {
	src, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	begin, end := render.BeginMarker(id), render.EndMarker(id)
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, len(src)+1)
	inside := false
	for n := 1; sc.Scan(); n++ {
		switch l := strings.TrimSpace(sc.Text()); {
		case l == begin:
			inside = true
		case l == end:
			inside = false
		case n == line:
			return inside
		}
	}
	return false
}

// InputFor is the in-place input of a validated render spec: its id, phase,
// mode, CA bundles and evidence log (the server's default when empty). In
// global mode without a bundle it also returns the change that writes
// Cloudflare's CA next to the config, as the managed block does.
func InputFor(s render.Spec) (Input, []apply.Change, error) {
	in := Input{ID: s.ID, Phase: s.Phase, Mode: s.Mode, CAFile: s.CAFile, AccessLog: s.AccessLog}
	if in.AccessLog == "" {
		in.AccessLog = render.DefaultAccessLog(s.Server, s.ID)
	}
	for _, h := range s.Hosts {
		if h.CAFile != "" {
			if in.HostCAFiles == nil {
				in.HostCAFiles = map[string]string{}
			}
			in.HostCAFiles[strings.ToLower(h.Name)] = h.CAFile
		}
	}
	var extra []apply.Change
	if s.Mode == render.Global && s.CAFile == "" {
		dir := s.ConfDir
		if dir == "" {
			dir = render.DefaultConfDir(s.Server)
		}
		in.CAFile = filepath.Join(dir, render.GlobalCAFileName)
		c := apply.Change{Path: in.CAFile, Content: cfca.PEM(), Mode: 0o644, Original: apply.Absent}
		if old, err := os.ReadFile(in.CAFile); err == nil {
			c.Original = apply.OriginalOf(old)
		} else if !errors.Is(err, os.ErrNotExist) {
			return in, nil, fmt.Errorf("read %s: %w", in.CAFile, err)
		}
		extra = append(extra, c)
	}
	return in, extra, nil
}

// Changes are the plan's edits for origin/apply, each with what its file
// held when planned, so Apply refuses a file edited since (after a
// confirmation prompt, say).
func (p *Plan) Changes() []apply.Change {
	out := make([]apply.Change, 0, len(p.Edits))
	for _, e := range p.Edits {
		c := apply.Change{Path: e.Path, Content: e.New, Original: apply.OriginalOf(e.Old)}
		if e.Created {
			c.Mode, c.Original = 0o644, apply.Absent
			if e.Old != nil {
				c.Original = apply.OriginalOf(e.Old)
			}
		}
		out = append(out, c)
	}
	return out
}

// ListenerTargets are the listener checks after the reload: each
// hostname's check (perHost, from apply.Targets, with its CA names and
// phase) against every address its blocks listen on.
func ListenerTargets(hosts []sites.Host, perHost []apply.Target) []apply.Target {
	var out []apply.Target
	for _, t := range perHost {
		for _, h := range hosts {
			if !strings.EqualFold(h.Hostname, t.SNI) {
				continue
			}
			for _, b := range h.Blocks {
				for _, addr := range b.DialAddrs() {
					t := t
					t.Addr = addr
					if !slices.ContainsFunc(out, func(o apply.Target) bool { return o.Addr == t.Addr && o.SNI == t.SNI }) {
						out = append(out, t)
					}
				}
			}
		}
	}
	return out
}
