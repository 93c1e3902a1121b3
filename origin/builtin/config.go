package builtin

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"path/filepath"

	"github.com/aopwizard/aopwizard/pki"
)

// Config is the JSON file the `builtin` renderer of origin/render writes.
// Field names are the contract between the two packages.
type Config struct {
	ID       string `json:"id"`
	Listen   string `json:"listen"`
	Phase    string `json:"phase"` // "soft" or "enforce"
	Mode     string `json:"mode"`  // "global", "zone" or "hostname"
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// CAFile is the bundle for global/zone mode; per-hostname CAs are in Hosts.
	CAFile    string `json:"ca_file,omitempty"`
	Hosts     []Host `json:"hosts,omitempty"`
	AccessLog string `json:"access_log,omitempty"` // empty: no evidence log
	Upstream  string `json:"upstream,omitempty"`   // empty: answer 200 "ok verify=…"
}

// Host is one served hostname; CAFile is set in hostname mode only.
type Host struct {
	Name   string `json:"name"`
	CAFile string `json:"ca_file,omitempty"`
}

// Load is LoadContext without cancellation.
func Load(path string) (*Config, error) {
	return LoadContext(context.Background(), path)
}

// LoadContext reads and checks a config file. Like certificates and keys,
// it is read through pki.ReadInput: at most pki.MaxInputSize (a rendered
// config is a few hundred bytes) and interruptible by ctx.
func LoadContext(ctx context.Context, path string) (*Config, error) {
	data, err := pki.ReadInput(ctx, path, pki.MaxInputSize)
	if err != nil {
		return nil, fmt.Errorf("read builtin origin config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parse builtin origin config %s: %w; render the builtin origin's configuration again", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("builtin origin config %s: %w", path, err)
	}
	return &c, nil
}

// Validate reports the first problem that would stop the server from
// starting or make it verify against the wrong CA.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q is not host:port: %w", c.Listen, err)
	}
	switch c.Phase {
	case "soft", "enforce":
	default:
		return fmt.Errorf("phase %q is unknown; use soft or enforce", c.Phase)
	}
	for name, p := range map[string]string{"cert_file": c.CertFile, "key_file": c.KeyFile} {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%s %q must be an absolute path", name, p)
		}
	}
	switch c.Mode {
	case "global", "zone":
		if !filepath.IsAbs(c.CAFile) {
			return fmt.Errorf("ca_file %q must be an absolute path in %s mode", c.CAFile, c.Mode)
		}
	case "hostname":
		if len(c.Hosts) == 0 {
			return fmt.Errorf("hostname mode needs at least one entry in hosts")
		}
		for _, h := range c.Hosts {
			if h.Name == "" || !filepath.IsAbs(h.CAFile) {
				return fmt.Errorf("host %q needs a name and an absolute ca_file in hostname mode", h.Name)
			}
		}
	default:
		return fmt.Errorf("mode %q is unknown; use global, zone or hostname", c.Mode)
	}
	if c.AccessLog != "" && !filepath.IsAbs(c.AccessLog) {
		return fmt.Errorf("access_log %q must be an absolute path", c.AccessLog)
	}
	if c.Upstream != "" {
		u, err := url.Parse(c.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("upstream %q is not an http(s)://host:port URL", c.Upstream)
		}
	}
	return nil
}
