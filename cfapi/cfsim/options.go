package cfsim

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/pki"
)

// OptionError is an invalid simulator option. Option names it as a field
// path of ServeOptions ("Zones", "Faults.Rate", "Listen", "Edge.Origin"…)
// so a front end can point at its own input for it; Err says what is wrong
// and what to give instead.
type OptionError struct {
	Option string
	// Value is the rejected value as given; empty for the token, which is
	// never repeated.
	Value string
	Err   error
}

// optionLabels names each option in words for Error.
var optionLabels = map[string]string{
	"Zones":         "zone",
	"Token":         "API token",
	"SSLMode":       "SSL/TLS mode",
	"TLSClientAuth": "global AOP (tls_client_auth) setting",
	"DeployAfter":   "deployment delay",
	"Faults.Rate":   "fault rate",
	"Faults.Kinds":  "fault kind",
	"Faults.Retry":  "Retry-After of injected 429s",
	"Faults.Delay":  "injected latency",
	"Listen":        "API listen address",
	"Edge.Listen":   "edge listen address",
	"Edge.Origin":   "edge origin",
	"Edge.Zone":     "edge zone",
}

func (e *OptionError) Error() string {
	label := optionLabels[e.Option]
	if label == "" {
		label = e.Option
	}
	if e.Value == "" {
		return fmt.Sprintf("simulator %s: %v", label, e.Err)
	}
	return fmt.Sprintf("simulator %s %q: %v", label, e.Value, e.Err)
}

func (e *OptionError) Unwrap() error { return e.Err }

func optErr(option, value string, format string, args ...any) error {
	return &OptionError{Option: option, Value: value, Err: fmt.Errorf(format, args...)}
}

// DefaultZone is the zone a simulator started with Start holds when
// Options.Zones is empty.
const DefaultZone = "example.com"

// FaultKinds lists every fault the simulator can inject.
func FaultKinds() []FaultKind {
	return []FaultKind{Fault429, Fault5xx, FaultReset, FaultResetAfter, FaultLatency}
}

// Validate reports the first option a simulator cannot run with. Zone
// names follow pki.ValidateDomain, the rule every aopwizard command
// applies: internationalised names must be given in their ASCII (xn--)
// form.
func (o Options) Validate() error {
	for _, z := range o.Zones {
		if err := pki.ValidateDomain(z); err != nil {
			return &OptionError{Option: "Zones", Value: z, Err: err}
		}
	}
	if strings.ContainsFunc(o.Token, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-')
	}) {
		// The simulator answers any other character with 6003/6111, so no
		// client could ever authenticate.
		return optErr("Token", "", "has characters a bearer token cannot hold: use letters, digits, '_' and '-'")
	}
	if o.SSLMode != "" && !cfapi.IsSSLMode(o.SSLMode) {
		return optErr("SSLMode", o.SSLMode, "is not a Cloudflare ssl value: use one of %s", strings.Join(cfapi.SSLModes(), ", "))
	}
	if o.TLSClientAuth != "" && !slices.Contains(settingValues["tls_client_auth"], o.TLSClientAuth) {
		return optErr("TLSClientAuth", o.TLSClientAuth, "is not on or off")
	}
	if o.DeployAfter < 0 {
		return optErr("DeployAfter", strconv.Itoa(o.DeployAfter), "is negative: give the number of reads before a deployment finishes, 0 for at once")
	}
	return o.Faults.Validate()
}

// Validate reports the first fault setting the simulator cannot apply.
func (f Faults) Validate() error {
	// Written so NaN fails too: every comparison with NaN is false.
	if !(f.Rate >= 0 && f.Rate <= 1) {
		return optErr("Faults.Rate", strconv.FormatFloat(f.Rate, 'g', -1, 64), "is not a fraction from 0 to 1")
	}
	names := make([]string, 0, len(FaultKinds()))
	for _, k := range FaultKinds() {
		names = append(names, string(k))
	}
	for _, k := range slices.Concat(f.Kinds, f.Sequence) {
		if k != "" && !slices.Contains(FaultKinds(), k) {
			return optErr("Faults.Kinds", string(k), "is not a fault the simulator knows: use %s", strings.Join(names, ", "))
		}
	}
	if f.RetryAfter < 0 {
		return optErr("Faults.Retry", strconv.Itoa(f.RetryAfter), "is negative")
	}
	if f.Latency < 0 {
		return optErr("Faults.Delay", f.Latency.String(), "is negative")
	}
	return nil
}

// Validate reports the first edge option StartEdge would refuse. The zone
// must also be one of the simulator's, which only StartEdge can check.
func (o EdgeOptions) Validate() error {
	if o.Listen != "" {
		if err := checkListen(o.Listen); err != nil {
			return &OptionError{Option: "Edge.Listen", Value: o.Listen, Err: err}
		}
	}
	if o.Origin == "" {
		return optErr("Edge.Origin", "", "is missing: give the origin's HOST:PORT the edge proxies to")
	}
	host, port, err := net.SplitHostPort(o.Origin)
	if err != nil || host == "" {
		return optErr("Edge.Origin", o.Origin, "is not HOST:PORT: give the origin's address, such as 127.0.0.1:443")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > math.MaxUint16 {
		return optErr("Edge.Origin", o.Origin, "has port %q: give a port from 1 to 65535", port)
	}
	if o.Zone != "" {
		if err := pki.ValidateDomain(strings.TrimSuffix(o.Zone, ".")); err != nil {
			return &OptionError{Option: "Edge.Zone", Value: o.Zone, Err: err}
		}
	}
	return nil
}

// ValidateListen checks an address the simulator may serve on: HOST:PORT
// with a loopback host (localhost, 127.0.0.0/8 or ::1) and a port from 0
// (any free port) to 65535. The simulator accepts a throwaway token and its
// edge presents private-key-backed client certificates, so other hosts
// must not reach it.
func ValidateListen(addr string) error {
	if err := checkListen(addr); err != nil {
		return &OptionError{Option: "Listen", Value: addr, Err: err}
	}
	return nil
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not HOST:PORT: give a loopback address such as 127.0.0.1:8787")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > math.MaxUint16 {
		return fmt.Errorf("has port %q: give a port from 0 (any free port) to 65535", port)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("is not a loopback address: listen on 127.0.0.1 or [::1]")
	}
	return nil
}
