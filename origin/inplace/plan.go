package inplace

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/sites"
)

// ErrNoBlock is wrapped when a hostname has no TLS block to edit: the
// caller offers a new managed block, or says how to add TLS first.
var ErrNoBlock = errors.New("no existing TLS site serves the hostname")

// PlanFor is what `origin apply --target existing` calls: it reads the
// server's configuration (nginx -T, Apache DUMP_VHOSTS, haproxy.cfg),
// finds the blocks of every hostname, and plans the edit. in.Blocks is
// filled in here. The returned hosts say what was found for each hostname
// (for the dry run and the confirmation prompt), also on error.
func PlanFor(ctx context.Context, r server.Runner, d *server.Driver, hostnames []string, in Input) (*Plan, []sites.Host, error) {
	if len(hostnames) == 0 {
		return nil, nil, errors.New("no hostname given: name the hostnames whose existing site gets AOP")
	}
	var (
		plan  func(Input) (*Plan, error)
		hosts []sites.Host
	)
	switch d.Kind {
	case render.Nginx:
		c, err := sites.LoadNginx(ctx, r, d)
		if err != nil {
			return nil, nil, err
		}
		hosts = c.Config().Lookup(hostnames)
		plan = func(in Input) (*Plan, error) { return PlanNginx(c, in) }
	case render.Apache:
		c, err := sites.LoadApache(ctx, r, d)
		if err != nil {
			return nil, nil, err
		}
		hosts = c.Config().Lookup(hostnames)
		plan = func(in Input) (*Plan, error) { return PlanApache(c, in) }
	case render.HAProxy:
		c, err := sites.LoadHAProxy(d.ConfigPath)
		if err != nil {
			return nil, nil, err
		}
		hosts = c.Config().Lookup(hostnames)
		plan = func(in Input) (*Plan, error) { return PlanHAProxy(c, in) }
	default:
		return nil, nil, fmt.Errorf("editing an existing site is not supported for %s: use a new managed block", d.Kind)
	}
	var missing []string
	for _, h := range hosts {
		if len(h.Blocks) == 0 {
			missing = append(missing, h.Hostname+" ("+h.Detail+")")
		}
		in.Blocks = append(in.Blocks, h.Blocks...)
	}
	if len(missing) > 0 {
		return nil, hosts, fmt.Errorf("%w: %s", ErrNoBlock, strings.Join(missing, "; "))
	}
	p, err := plan(in)
	return p, hosts, err
}
