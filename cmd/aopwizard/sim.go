package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

type simFlags struct {
	listen, token, sslMode, tlsClientAuth string
	edgeListen, edgeOrigin, originCA      string
	logFile                               string
	zones, faultKinds                     []string
	deployAfter                           int
	deployTimeout                         bool
	faultRate                             float64
	seed                                  int64
}

func newSimCmd() *cobra.Command {
	var f simFlags
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a local simulator of the Cloudflare AOP API (and optionally of the edge)",
		Long: "Serve an in-memory imitation of the Cloudflare API calls Authenticated Origin Pulls uses, for\n" +
			"tests, demos and dry runs: token verification, zone lookup, ssl and tls_client_auth settings,\n" +
			"zone-level and per-hostname certificates and associations, and notification policies.\n" +
			"With --edge-listen and --edge-origin it also runs an HTTPS front door that proxies to your\n" +
			"origin like Cloudflare's edge, presenting the client certificate AOP would.\n\n" +
			"It prints one JSON line on stdout: api_url, token, account_id, zones (name -> id), and with\n" +
			"an edge its address and the CA to trust for it. Then it serves until interrupted.\n" +
			"The printed token is the simulator's own throwaway credential, not a Cloudflare secret;\n" +
			"point the wizard at it with CLOUDFLARE_BASE_URL and CLOUDFLARE_API_TOKEN.\n\n" +
			"It listens on loopback addresses only.",
		Example: "  aopwizard sim --listen 127.0.0.1:8787 --zone example.com\n" +
			"  aopwizard sim --zone example.com --deploy-after 3 --faults 0.2 --seed 7 --log sim.jsonl\n" +
			"  aopwizard sim --zone example.com --edge-listen 127.0.0.1:8443 --edge-origin 127.0.0.1:18443 --ssl-mode strict --origin-ca srv-ca.pem",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSim(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:0", "address of the API (loopback only); port 0 picks a free port")
	fl.StringArrayVar(&f.zones, "zone", nil, "zone name the simulated account holds (repeatable; default example.com)")
	fl.StringVar(&f.token, "token", "", "token the API accepts (default: a random cfut_ token; a cfat_ prefix makes it an account token)")
	fl.StringVar(&f.sslMode, "ssl-mode", "full", "initial ssl setting of every zone: off, flexible, full, strict or origin_pull")
	fl.StringVar(&f.tlsClientAuth, "tls-client-auth", "off", "initial tls_client_auth (global AOP) of every zone: on or off")
	fl.IntVar(&f.deployAfter, "deploy-after", 0, "number of GETs of a certificate or association before it turns active (0: at once)")
	fl.BoolVar(&f.deployTimeout, "deploy-timeout", false, "end deployments in deployment_timed_out instead of active")
	fl.Float64Var(&f.faultRate, "faults", 0, "fraction of API requests (0 to 1) that get an injected fault")
	fl.StringSliceVar(&f.faultKinds, "fault-kinds", []string{"429", "5xx"}, "faults to inject: 429, 5xx, reset, reset_after, latency")
	fl.Int64Var(&f.seed, "seed", 0, "seed for IDs and fault choices (a fault depends on the seed and the request's position: same seed and request order, same faults)")
	fl.StringVar(&f.logFile, "log", "", "append the request log to FILE as JSON lines (private keys redacted); - for stderr")
	fl.StringVar(&f.edgeListen, "edge-listen", "", "also run the edge on this address (loopback only), for the first --zone")
	fl.StringVar(&f.edgeOrigin, "edge-origin", "", "origin HOST:PORT the edge proxies to (required with --edge-listen)")
	fl.StringVar(&f.originCA, "origin-ca", "", "file of PEM CAs the edge trusts for the origin's certificate in strict and origin_pull modes (default: system roots)")
	return cmd
}

// simInfo is the JSON line the command prints once it is listening.
type simInfo struct {
	APIURL      string            `json:"api_url"`
	Token       string            `json:"token"`
	AccountID   string            `json:"account_id"`
	Zones       map[string]string `json:"zones"`
	Edge        string            `json:"edge,omitempty"`
	EdgeCAPEM   string            `json:"edge_ca_pem,omitempty"`
	GlobalCAPEM string            `json:"global_ca_pem"`
}

func runSim(cmd *cobra.Command, f simFlags) error {
	opts, err := simOptions(f)
	if err != nil {
		return err
	}
	if f.logFile != "" {
		w, closeLog, err := openSimLog(cmd, f.logFile)
		if err != nil {
			return err
		}
		defer closeLog()
		opts.Log = w
	}
	ctx := cmd.Context()
	sim := cfsim.New(opts)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()

	info := simInfo{
		APIURL: "http://" + ln.Addr().String() + "/client/v4/", Token: sim.Token(), AccountID: sim.AccountID(),
		Zones: map[string]string{}, GlobalCAPEM: string(sim.GlobalCAPEM()),
	}
	for _, z := range opts.Zones {
		info.Zones[z] = sim.ZoneID(z)
	}
	if f.edgeListen != "" {
		eo := cfsim.EdgeOptions{Listen: f.edgeListen, Zone: opts.Zones[0], Origin: f.edgeOrigin}
		if f.originCA != "" {
			if eo.OriginRootCAs, err = loadPool(f.originCA); err != nil {
				return err
			}
		}
		edge, err := sim.StartEdge(ctx, eo)
		if err != nil {
			return fmt.Errorf("start the edge: %w", err)
		}
		defer edge.Close()
		info.Edge, info.EdgeCAPEM = edge.Addr(), string(edge.CACertPEM())
	}
	line, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode the simulator's address line: %w", err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(line))
	fmt.Fprintf(cmd.ErrOrStderr(), "cfsim: serving the API at %s (interrupt to stop)\n", info.APIURL)

	select {
	case <-ctx.Done():
		return nil // a requested stop is the normal end of a server
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve the API: %w", err)
	}
}

func simOptions(f simFlags) (cfsim.Options, error) {
	var o cfsim.Options
	for _, a := range []struct{ flag, addr string }{{"--listen", f.listen}, {"--edge-listen", f.edgeListen}} {
		if a.addr == "" && a.flag == "--edge-listen" {
			continue
		}
		if err := checkLoopback(a.addr); err != nil {
			return o, usagef("%s %s: %w", a.flag, a.addr, err)
		}
	}
	if (f.edgeListen == "") != (f.edgeOrigin == "") {
		return o, usagef("--edge-listen and --edge-origin go together: pass both to run the edge, or neither")
	}
	if f.edgeOrigin != "" {
		if _, _, err := net.SplitHostPort(f.edgeOrigin); err != nil {
			return o, usagef("--edge-origin %s is not HOST:PORT: %w", f.edgeOrigin, err)
		}
	}
	if !oneOf(f.sslMode, "off", "flexible", "full", "strict", "origin_pull") {
		return o, usagef("--ssl-mode %q is not a Cloudflare ssl value: use off, flexible, full, strict or origin_pull", f.sslMode)
	}
	if !oneOf(f.tlsClientAuth, "on", "off") {
		return o, usagef("--tls-client-auth %q is not on or off", f.tlsClientAuth)
	}
	if f.deployAfter < 0 {
		return o, usagef("--deploy-after %d is negative: pass the number of GETs, 0 for at once", f.deployAfter)
	}
	if f.faultRate < 0 || f.faultRate > 1 {
		return o, usagef("--faults %g is out of range: pass a fraction from 0 to 1", f.faultRate)
	}
	for _, k := range f.faultKinds {
		if !oneOf(k, "429", "5xx", "reset", "reset_after", "latency") {
			return o, usagef("--fault-kinds %q is unknown: use 429, 5xx, reset, reset_after or latency", k)
		}
		o.Faults.Kinds = append(o.Faults.Kinds, cfsim.FaultKind(k))
	}
	if strings.ContainsFunc(f.token, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-')
	}) {
		// The simulator answers any other character with 6003/6111, so
		// no client could ever authenticate.
		return o, usagef("--token has characters a bearer token cannot hold: use letters, digits, '_' and '-'")
	}
	zones := f.zones
	if len(zones) == 0 {
		zones = []string{"example.com"}
	}
	for _, z := range zones {
		z = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(z), "."))
		if z == "" || !strings.Contains(z, ".") || strings.ContainsAny(z, "/: ") {
			return o, usagef("--zone %q is not a domain name: pass the zone's apex, e.g. example.com", z)
		}
		o.Zones = append(o.Zones, z)
	}
	o.Token, o.SSLMode, o.TLSClientAuth = f.token, f.sslMode, f.tlsClientAuth
	o.DeployAfter, o.DeployTimeout, o.Seed = f.deployAfter, f.deployTimeout, f.seed
	o.Faults.Rate = f.faultRate
	return o, nil
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// checkLoopback refuses addresses other hosts could reach: the simulator
// accepts a throwaway token and would hand out private-key-backed
// connections through its edge.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("not HOST:PORT: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errors.New("not a loopback address: listen on 127.0.0.1 or [::1]")
	}
	return nil
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--origin-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, usagef("--origin-ca %s holds no PEM certificate: pass the CA that issued the origin's certificate", path)
	}
	return pool, nil
}

// openSimLog opens the request log for appending. It is a stream written
// line by line while the simulator runs, so it cannot be written atomically
// like the wizard's other files; it holds no secrets (keys are redacted).
func openSimLog(cmd *cobra.Command, path string) (io.Writer, func(), error) {
	if path == "-" {
		return cmd.ErrOrStderr(), func() {}, nil
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, usagef("--log: %w", err)
	}
	return fh, func() { _ = fh.Close() }, nil
}
