package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/pki"
)

func faultKindList() string {
	var names []string
	for _, k := range cfsim.FaultKinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

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
	fl.StringVar(&f.sslMode, "ssl-mode", cfapi.SSLFull, "initial ssl setting of every zone: "+strings.Join(cfapi.SSLModes(), ", "))
	fl.StringVar(&f.tlsClientAuth, "tls-client-auth", "off", "initial tls_client_auth (global AOP) of every zone: on or off")
	fl.IntVar(&f.deployAfter, "deploy-after", 0, "number of GETs of a certificate or association before it turns active (0: at once)")
	fl.BoolVar(&f.deployTimeout, "deploy-timeout", false, "end deployments in deployment_timed_out instead of active")
	fl.Float64Var(&f.faultRate, "faults", 0, "fraction of API requests (0 to 1) that get an injected fault")
	fl.StringSliceVar(&f.faultKinds, "fault-kinds", []string{"429", "5xx"}, "faults to inject: "+faultKindList())
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
	if err := opts.Validate(); err != nil {
		return simUsage(err)
	}
	if f.originCA != "" {
		if opts.Edge.OriginRootCAs, err = loadOriginCA(f.originCA); err != nil {
			return err
		}
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
	srv, err := cfsim.Start(ctx, opts)
	if err != nil {
		return simUsage(err)
	}
	sim := srv.Sim
	info := simInfo{
		APIURL: srv.APIURL, Token: sim.Token(), AccountID: sim.AccountID(),
		Zones: map[string]string{}, GlobalCAPEM: string(sim.GlobalCAPEM()),
	}
	for _, z := range srv.Zones {
		info.Zones[z] = sim.ZoneID(z)
	}
	if srv.Edge != nil {
		info.Edge, info.EdgeCAPEM = srv.Edge.Addr(), string(srv.Edge.CACertPEM())
	}
	line, err := json.Marshal(info)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("encode the simulator's address line: %w", err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(line))
	fmt.Fprintf(cmd.ErrOrStderr(), "cfsim: serving the API at %s (interrupt to stop)\n", info.APIURL)
	return srv.Wait(ctx)
}

// simOptions turns the flags into the simulator's options; cfsim checks
// them.
func simOptions(f simFlags) (cfsim.ServeOptions, error) {
	o := cfsim.ServeOptions{Listen: f.listen}
	if (f.edgeListen == "") != (f.edgeOrigin == "") {
		return o, usagef("--edge-listen and --edge-origin go together: pass both to run the edge, or neither")
	}
	if f.originCA != "" && f.edgeListen == "" {
		return o, usagef("--origin-ca is for the edge: pass it with --edge-listen and --edge-origin")
	}
	if f.edgeListen != "" {
		o.Edge = &cfsim.EdgeOptions{Listen: f.edgeListen, Origin: f.edgeOrigin}
	}
	for _, k := range f.faultKinds {
		o.Faults.Kinds = append(o.Faults.Kinds, cfsim.FaultKind(k))
	}
	o.Zones = f.zones
	o.Token, o.SSLMode, o.TLSClientAuth = f.token, f.sslMode, f.tlsClientAuth
	o.DeployAfter, o.DeployTimeout, o.Seed = f.deployAfter, f.deployTimeout, f.seed
	o.Faults.Rate = f.faultRate
	return o, nil
}

// simFlagFor names the flag behind each cfsim option.
var simFlagFor = map[string]string{
	"Zones": "--zone", "Token": "--token", "SSLMode": "--ssl-mode", "TLSClientAuth": "--tls-client-auth",
	"DeployAfter": "--deploy-after", "Faults.Rate": "--faults", "Faults.Kinds": "--fault-kinds",
	"Listen": "--listen", "Edge.Listen": "--edge-listen", "Edge.Origin": "--edge-origin", "Edge.Zone": "--zone",
}

// simUsage words an invalid cfsim option as bad usage of its flag; other
// errors (a port in use) stay failures.
func simUsage(err error) error {
	var oe *cfsim.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	flag := simFlagFor[oe.Option]
	if flag == "" {
		return asUsage(err)
	}
	if oe.Value == "" {
		return usagef("%s: %w", flag, oe.Err)
	}
	return usagef("%s %s: %w", flag, oe.Value, oe.Err)
}

// loadOriginCA reads --origin-ca of probe and sim: the certificates that
// verify the origin's server certificate. A self-signed server certificate
// (CA:FALSE) stays allowed: pinning it is how a test origin is verified.
func loadOriginCA(path string) (*x509.CertPool, error) {
	pool, err := pki.LoadTrustPool(path)
	if err != nil {
		return nil, usagef("--origin-ca: %w", err)
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
