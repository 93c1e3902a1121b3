// Package builtin is aopwizard's own HTTPS origin: a small crypto/tls
// server that reads the JSON config the `builtin` renderer of origin/render
// writes and behaves like a real origin in both phases. It serves the demo
// and tests on machines without nginx; it never stands in for the
// real-server tests.
//
// Soft phase: the client certificate is requested, never required, and
// verified in the handler, so every request is served and the result is
// logged. Enforce phase: per-SNI TLS configs require a certificate that
// chains to that hostname's CA, so bad certificates fail the handshake.
package builtin

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // the evidence format's fingerprint is SHA-1, as nginx's $ssl_client_fingerprint
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
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

// Server is a configured builtin origin.
type Server struct {
	cfg      *Config
	cert     tls.Certificate
	pools    map[string]*x509.CertPool // by hostname; "" = zone/global pool or the hostname-mode default
	upstream *httputil.ReverseProxy

	mu    sync.Mutex
	addr  string
	ready chan struct{}
	logMu sync.Mutex
	log   io.Writer
}

// New checks the config and loads the certificate, key and CA bundles.
func New(cfg *Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("builtin origin: %w", err)
	}
	cert, err := pki.LoadKeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("builtin origin: load server certificate: %w", err)
	}
	s := &Server{cfg: cfg, cert: cert, pools: map[string]*x509.CertPool{}, addr: cfg.Listen, ready: make(chan struct{})}
	if cfg.Mode == "hostname" {
		for i, h := range cfg.Hosts {
			p, err := loadPool(h.CAFile)
			if err != nil {
				return nil, err
			}
			s.pools[strings.ToLower(h.Name)] = p
			if i == 0 {
				// Clients without a known SNI get the first host's CA, as the
				// first server block / crt-list line does in nginx and HAProxy.
				s.pools[""] = p
			}
		}
	} else {
		p, err := loadPool(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		s.pools[""] = p
	}
	if cfg.Upstream != "" {
		u, err := url.Parse(cfg.Upstream)
		if err != nil {
			return nil, fmt.Errorf("builtin origin: upstream: %w", err)
		}
		s.upstream = httputil.NewSingleHostReverseProxy(u)
	}
	return s, nil
}

// loadPool reads a CA bundle the way nginx or HAProxy would be given it:
// bounded, a regular file, CA certificates only (pki.LoadCAPool).
func loadPool(path string) (*x509.CertPool, error) {
	p, err := pki.LoadCAPool(path)
	if err != nil {
		return nil, fmt.Errorf("builtin origin: %w", err)
	}
	return p, nil
}

// poolFor returns the CA pool for an SNI and whether the SNI names a
// configured host (always true outside hostname mode). No SNI is not a
// configured host, although it gets the first host's pool: pools[""] is
// that fallback, not a hostname.
func (s *Server) poolFor(sni string) (*x509.CertPool, bool) {
	if s.cfg.Mode != "hostname" {
		return s.pools[""], true
	}
	if p, ok := s.pools[strings.ToLower(sni)]; ok && sni != "" {
		return p, true
	}
	return s.pools[""], false
}

func (s *Server) tlsConfig() *tls.Config {
	base := &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		pool, _ := s.poolFor(hello.ServerName)
		c := &tls.Config{Certificates: base.Certificates, MinVersion: base.MinVersion, ClientCAs: pool}
		if s.cfg.Phase == "enforce" {
			c.ClientAuth = tls.RequireAndVerifyClientCert
		} else {
			// Request, never verify at TLS: a bad certificate must still be
			// served in the soft phase. ClientCAs is set so the CA names are
			// announced as a real origin would.
			c.ClientAuth = tls.RequestClientCert
		}
		return c, nil
	}
	return base
}

// Addr is the address the server listens on: the real one once serving
// (useful with port 0), the configured one before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ListenAndServe listens on the configured address and serves until ctx
// ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("builtin origin: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves HTTPS on ln until ctx ends, then shuts down gracefully. It
// closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.AccessLog != "" {
		f, err := os.OpenFile(s.cfg.AccessLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			ln.Close()
			return fmt.Errorf("builtin origin: open access log: %w", err)
		}
		defer f.Close()
		s.log = f
	} else {
		s.log = io.Discard
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.handle),
		TLSConfig:         s.tlsConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		// Refused handshakes never reach the handler; keep them as evidence.
		ErrorLog: log.New(errorLogWriter{s}, "", 0),
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	close(s.ready)
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-done:
		return fmt.Errorf("builtin origin: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("builtin origin: shut down: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("builtin origin: serve: %w", err)
	}
	return nil
}

// verify is the soft phase's own check, with nginx's words for the result
// so the evidence reads the same whichever origin wrote it.
func verify(state *tls.ConnectionState, pool *x509.CertPool, now time.Time) string {
	if state == nil || len(state.PeerCertificates) == 0 {
		return "NONE"
	}
	inter := x509.NewCertPool()
	for _, c := range state.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := state.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	var inv x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case err == nil:
		return "SUCCESS"
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return "FAILED:certificate has expired"
	case errors.As(err, &unknown):
		if len(state.PeerCertificates) == 1 {
			return "FAILED:unable to verify the first certificate"
		}
		return "FAILED:unable to get local issuer certificate"
	}
	return "FAILED:" + strings.ReplaceAll(err.Error(), "\"", "'")
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	sni := ""
	if r.TLS != nil {
		sni = r.TLS.ServerName
	}
	pool, known := s.poolFor(sni)
	result := verify(r.TLS, pool, time.Now())
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() { s.logRequest(r, sni, host, rec.status, result) }()
	switch {
	case s.cfg.Mode == "hostname" && sni != "" && !strings.EqualFold(sni, host):
		// The certificate was checked against the SNI's CA, not the Host's.
		http.Error(rec, "misdirected request: Host does not match SNI", http.StatusMisdirectedRequest)
		return
	case s.cfg.Mode == "hostname" && s.cfg.Phase == "enforce" && !known:
		http.Error(rec, "misdirected request: no or unknown SNI", http.StatusMisdirectedRequest)
		return
	}
	if s.upstream != nil {
		r.Header.Set("X-Client-Verify", result)
		s.upstream.ServeHTTP(rec, r)
		return
	}
	rec.Header().Set("X-Client-Verify", result)
	rec.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(rec, "ok verify=%s\n", result)
}

// logRequest writes one aop1 evidence line.
func (s *Server) logRequest(r *http.Request, sni, host string, status int, result string) {
	fp, serial, subject, issuer := "-", "-", "-", "-"
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		c := r.TLS.PeerCertificates[0]
		sum := sha1.Sum(c.Raw) //nolint:gosec // fingerprint, not a security check
		fp = hex.EncodeToString(sum[:])
		serial = fmt.Sprintf("%X", c.SerialNumber)
		subject, issuer = c.Subject.String(), c.Issuer.String()
	}
	client := r.RemoteAddr
	if h, _, err := net.SplitHostPort(client); err == nil {
		client = h
	}
	line := fmt.Sprintf("aop1 time=%s sni=%s host=%s status=%d verify=%s fp=%s serial=%s subject=%s issuer=%s client=%s ray=%s\n",
		time.Now().UTC().Format(time.RFC3339), orDash(sni), orDash(host), status, quote(result), fp, serial, quote(subject), quote(issuer),
		orDash(client), quote(r.Header.Get("Cf-Ray")))
	s.write([]byte(line))
}

func (s *Server) write(line []byte) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	_, _ = s.log.Write(line) // evidence is best effort: a full disk must not fail requests
}

func orDash(v string) string {
	if v == "" || strings.ContainsAny(v, " \"") {
		return "-"
	}
	return v
}

func quote(v string) string { return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"` }

// errorLogWriter turns http.Server's error log (refused handshakes) into
// evidence lines that are not requests.
type errorLogWriter struct{ s *Server }

func (e errorLogWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	e.s.write(fmt.Appendf(nil, "aopwizard-tls-error time=%s msg=%s\n", time.Now().UTC().Format(time.RFC3339), quote(msg)))
	return len(p), nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
