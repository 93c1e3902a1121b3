package sites

import (
	"context"
	"fmt"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// Discover reads the server's view of its configuration and returns every
// block, TLS or not.
func Discover(ctx context.Context, r server.Runner, d *server.Driver) (*Config, error) {
	switch d.Kind {
	case render.Nginx:
		c, err := LoadNginx(ctx, r, d)
		if err != nil {
			return nil, err
		}
		return c.Config(), nil
	case render.Apache:
		c, err := LoadApache(ctx, r, d)
		if err != nil {
			return nil, err
		}
		return c.Config(), nil
	case render.HAProxy:
		c, err := LoadHAProxy(d.ConfigPath)
		if err != nil {
			return nil, err
		}
		return c.Config(), nil
	}
	return nil, fmt.Errorf("finding existing sites is not supported for %s: use a new managed block", d.Kind)
}

// NginxDumpArgv is `nginx -T` for the driver's config: the config test
// that also prints every file it read, each after a "# configuration file
// PATH:" line.
func NginxDumpArgv(d *server.Driver) []string {
	argv := []string{d.Binary, "-T", "-q"}
	if d.ConfigPath != "" {
		argv = append(argv, "-c", d.ConfigPath)
	}
	if d.ErrorLog != "" {
		argv = append(argv, "-e", d.ErrorLog)
	}
	return argv
}

// LoadNginx runs `nginx -T` and parses what it prints.
func LoadNginx(ctx context.Context, r server.Runner, d *server.Driver) (*NginxConfig, error) {
	out, err := r.Run(ctx, NginxDumpArgv(d)...)
	if err != nil {
		return nil, fmt.Errorf("read nginx's configuration: %w; fix the configuration until nginx's config test passes, then try again", err)
	}
	dump, err := ParseNginxDump(out)
	if err != nil {
		return nil, err
	}
	return ParseNginxConfig(dump)
}
