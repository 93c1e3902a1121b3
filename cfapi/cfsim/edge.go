package cfsim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"syscall"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/pki"
)

// EdgeOptions configures StartEdge.
type EdgeOptions struct {
	// Listen is the edge's address; default "127.0.0.1:0".
	Listen string
	// Zone is the zone whose settings and certificates the edge applies;
	// requests for hostnames outside it get 530.
	Zone string
	// Origin is the origin's host:port for every hostname of the zone, like
	// a proxied DNS record pointing there.
	Origin string
	// OriginRootCAs verifies the origin's certificate in strict and
	// origin_pull modes; nil means the system roots.
	OriginRootCAs *x509.CertPool
	// DialTimeout bounds the TCP connect to the origin (522 after it);
	// default 5s (Cloudflare waits 15s).
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for the origin's response headers
	// (524 after it); default 30s (Cloudflare waits 100s).
	ResponseTimeout time.Duration
}

// Edge is a running simulated edge. Visitors connect with TLS (trust
// CACertPEM) and SNI/Host set to a hostname of the zone.
type Edge struct {
	sim  *Sim
	opts EdgeOptions
	ln   net.Listener
	srv  *http.Server
	ca   *pki.Pair
	done chan struct{}
}

// HeaderAOPLevel is a cfsim-only response header naming the AOP level the
// edge applied: hostname, hostname-disabled, zone, global or none. It lets
// tests see the precedence decision; Cloudflare sends no such header.
const HeaderAOPLevel = "X-Cfsim-Aop-Level"

// StartEdge starts the edge for one zone; it stops when ctx ends or on
// Close.
func (s *Sim) StartEdge(ctx context.Context, opts EdgeOptions) (*Edge, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.Zone = strings.ToLower(strings.TrimSuffix(opts.Zone, "."))
	if s.ZoneID(opts.Zone) == "" {
		return nil, &OptionError{Option: "Edge.Zone", Value: opts.Zone,
			Err: errors.New("is not one of the simulator's zones: give one of its zone names")}
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.ResponseTimeout <= 0 {
		opts.ResponseTimeout = 30 * time.Second
	}
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "cfsim edge CA", Organization: "cfsim", KeyType: pki.ECDSAP256})
	if err != nil {
		return nil, fmt.Errorf("generate the edge CA: %w", err)
	}
	srvCert, err := pki.IssueServer(ca, pki.ServerOptions{
		CommonName: opts.Zone, DNSNames: []string{opts.Zone, "*." + opts.Zone, "localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, KeyType: pki.ECDSAP256,
	})
	if err != nil {
		return nil, fmt.Errorf("issue the edge certificate: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("edge listen on %s: %w", opts.Listen, err)
	}
	e := &Edge{sim: s, opts: opts, ln: ln, ca: ca, done: make(chan struct{})}
	tc := srvCert.TLSCertificate()
	e.srv = &http.Server{
		Handler:           e,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{tc}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // visitors' failed handshakes are not the simulator's concern
	}
	go func() {
		defer close(e.done)
		_ = e.srv.ServeTLS(ln, "", "")
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = e.Close()
		case <-e.done:
		}
	}()
	return e, nil
}

// Addr is the edge's listening address (host:port).
func (e *Edge) Addr() string { return e.ln.Addr().String() }

// CACertPEM is the CA that issued the edge's TLS certificate: visitors
// trust it to reach the edge.
func (e *Edge) CACertPEM() []byte { return e.ca.CertPEM() }

// Close stops the edge and waits for it to stop accepting.
func (e *Edge) Close() error {
	err := e.srv.Close()
	<-e.done
	return err
}

// edgeError is a failure the edge reports as a Cloudflare 52x status.
type edgeError struct {
	status int
	detail string
}

func (e *edgeError) Error() string { return e.detail }

type ctxKey struct{}

// pull is what the edge decided for one request.
type pull struct {
	host   string
	mode   string
	cert   *tls.Certificate
	level  string
	strict bool
}

func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ray := rayID()
	w.Header().Set("Cf-Ray", ray)
	w.Header().Set("Server", "cloudflare")
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host != e.opts.Zone && !strings.HasSuffix(host, "."+e.opts.Zone) {
		// Cloudflare's "DNS resolution error" (1001) is served as 530.
		edgeFailure(w, &edgeError{status: 530, detail: "hostname " + host + " is not in zone " + e.opts.Zone})
		return
	}
	p, err := e.decide(host)
	if err != nil {
		edgeFailure(w, &edgeError{status: 500, detail: err.Error()})
		return
	}
	w.Header().Set(HeaderAOPLevel, p.level)
	scheme := "https"
	if !cfapi.SSLModeAllowsAOP(p.mode) {
		// Off and Flexible reach the origin over plain HTTP.
		scheme = "http"
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = scheme, e.opts.Origin
			pr.Out.Host = r.Host
			pr.SetXForwarded()
			pr.Out.Header.Set("Cf-Connecting-Ip", clientIP(r))
			pr.Out.Header.Set("Cf-Ray", ray)
			pr.Out.Header.Set("Cf-Visitor", `{"scheme":"https"}`)
		},
		Transport:    e.transport(p),
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) { edgeFailure(w, classify(err)) },
	}
	proxy.ServeHTTP(w, r)
}

// decide reads the zone's state under the simulator's lock.
func (e *Edge) decide(host string) (pull, error) {
	s := e.sim
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.byName[e.opts.Zone]
	p := pull{host: host, mode: z.ssl.value}
	p.strict = cfapi.SSLModeVerifiesOrigin(p.mode)
	if !cfapi.SSLModeAllowsAOP(p.mode) {
		// AOP needs TLS to the origin: nothing is presented.
		p.level = "none"
		return p, nil
	}
	c, global, level := s.zoneClientCert(z, host)
	p.level = level
	switch {
	case c != nil:
		p.cert = &tls.Certificate{Certificate: [][]byte{c.leaf.Raw}, PrivateKey: c.key, Leaf: c.leaf}
	case global:
		gc, err := s.globalClientCert()
		if err != nil {
			return p, err
		}
		p.cert = gc
	}
	return p, nil
}

// globalClientCert is the certificate presented under global AOP, issued
// once from the stand-in CA (s.mu held).
func (s *Sim) globalClientCert() (*tls.Certificate, error) {
	if s.globalClient == nil {
		leaf, err := pki.IssueClient(s.globalCA, pki.ClientOptions{CommonName: "origin-pull.cfsim.invalid", KeyType: pki.ECDSAP256})
		if err != nil {
			return nil, fmt.Errorf("issue the global origin-pull certificate: %w", err)
		}
		tc := leaf.TLSCertificate()
		s.globalClient = &tc
	}
	return s.globalClient, nil
}

// transport makes a one-request transport presenting p.cert, so each
// request gets the certificate decided for it and connections are never
// shared across decisions.
func (e *Edge) transport(p pull) http.RoundTripper {
	dialer := &net.Dialer{Timeout: e.opts.DialTimeout}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, classifyDial(err)
		}
		return conn, nil
	}
	cfg := &tls.Config{
		ServerName: p.host,
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if p.cert == nil {
				return &tls.Certificate{}, nil
			}
			return p.cert, nil
		},
	}
	if p.strict {
		cfg.RootCAs = e.opts.OriginRootCAs
	} else {
		cfg.InsecureSkipVerify = true // Full mode: any origin certificate, as Cloudflare
	}
	return &http.Transport{
		DialContext: dial,
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tconn := tls.Client(conn, cfg)
			if err := tconn.HandshakeContext(ctx); err != nil {
				_ = conn.Close()
				return nil, classifyHandshake(err)
			}
			return tconn, nil
		},
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: e.opts.ResponseTimeout,
	}
}

func classifyDial(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &edgeError{status: 521, detail: "origin refused the connection: " + err.Error()}
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return &edgeError{status: 522, detail: "connection to the origin timed out: " + err.Error()}
	}
	return &edgeError{status: 521, detail: "cannot connect to the origin: " + err.Error()}
}

func classifyHandshake(err error) error {
	var verr *tls.CertificateVerificationError
	var herr x509.HostnameError
	if errors.As(err, &verr) || errors.As(err, &herr) {
		return &edgeError{status: 526, detail: "invalid origin certificate: " + err.Error()}
	}
	return &edgeError{status: 525, detail: "SSL handshake with the origin failed: " + err.Error()}
}

// classify maps a proxy error to a 52x. A TLS alert that arrives after the
// client side of the handshake finished is how TLS 1.3 origins reject a
// missing or untrusted client certificate; Cloudflare counts that as a
// failed handshake, so it is 525 like an alert during the handshake. Any
// other failure after the handshake (reset, EOF without a response) is 520.
func classify(err error) *edgeError {
	var ee *edgeError
	if errors.As(err, &ee) {
		return ee
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" {
		return &edgeError{status: 525, detail: "origin rejected the TLS session: " + err.Error()}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &edgeError{status: 524, detail: "origin did not answer in time: " + err.Error()}
	}
	return &edgeError{status: 520, detail: "origin returned an unknown error: " + err.Error()}
}

var edgeStatusText = map[int]string{
	520: "Web server is returning an unknown error",
	521: "Web server is down",
	522: "Connection timed out",
	524: "A timeout occurred",
	525: "SSL handshake failed",
	526: "Invalid SSL certificate",
	530: "Origin DNS error",
	500: "Internal server error",
}

// edgeFailure answers like Cloudflare's plain-text error pages
// ("error code: 525"), with the cause in a cfsim-only header for tests.
func edgeFailure(w http.ResponseWriter, e *edgeError) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("X-Cfsim-Error", e.detail)
	w.WriteHeader(e.status)
	_, _ = io.WriteString(w, fmt.Sprintf("error code: %d\n%s\n", e.status, edgeStatusText[e.status]))
}

func clientIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// rayID is a random 16-hex ray ID with a simulated colo suffix.
func rayID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-SIM"
}
