package cfsim_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// The lab's origin certificate covers a/b/origin.example.test, so the
// simulated zone is example.test.
const labZone = "example.test"

// startOrigin runs a TLS origin on 127.0.0.1 that requires a client
// certificate from one of cas and answers with what it saw.
func startOrigin(t *testing.T, lab *pkitest.Lab, cas ...*x509.Certificate) string {
	t.Helper()
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.TLS.PeerCertificates[0]
		fmt.Fprintf(w, "cn=%s issuer=%s sni=%s host=%s", c.Subject.CommonName, c.Issuer.CommonName, r.TLS.ServerName, r.Host)
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{lab.Server.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	srv.Config.ErrorLog = quietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

type edgeEnv struct {
	*env
	edge   *cfsim.Edge
	client *http.Client
}

func newEdgeEnv(t *testing.T, lab *pkitest.Lab, origin string, opts cfsim.Options) *edgeEnv {
	t.Helper()
	opts.Zones = []string{labZone}
	e := newEnv(t, opts)
	roots := x509.NewCertPool()
	roots.AddCert(lab.ServerCA.Cert)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	edge, err := e.sim.StartEdge(ctx, cfsim.EdgeOptions{Zone: labZone, Origin: origin, OriginRootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = edge.Close() })
	visitorRoots := x509.NewCertPool()
	if !visitorRoots.AppendCertsFromPEM(edge.CACertPEM()) {
		t.Fatal("edge CA PEM does not parse")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: visitorRoots}, DisableKeepAlives: true}}
	return &edgeEnv{env: e, edge: edge, client: client}
}

// visit requests https://host/ through the edge.
func (e *edgeEnv) visit(host string) (int, string, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest("GET", "https://"+e.edge.Addr()+"/", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("visit %s: %v", host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (e *edgeEnv) wantVisit(host string, status int, bodyHas string) {
	e.t.Helper()
	got, body, h := e.visit(host)
	e.t.Logf("visit %s: %d level=%s cause=%q", host, got, h.Get(cfsim.HeaderAOPLevel), h.Get("X-Cfsim-Error"))
	if got != status || !strings.Contains(body, bodyHas) {
		e.t.Fatalf("visit %s: %d %q (cause %q, level %q), want %d containing %q", host, got, body,
			h.Get("X-Cfsim-Error"), h.Get(cfsim.HeaderAOPLevel), status, bodyHas)
	}
	if h.Get("Cf-Ray") == "" {
		e.t.Fatalf("visit %s: no cf-ray header", host)
	}
}

func (e *edgeEnv) upload(path string, body map[string]string) string {
	e.t.Helper()
	var c certResult
	e.call("POST", e.zpath(path), body).want(e.t, 200, 0).result(e.t, &c)
	return c.ID
}

func issue(t *testing.T, ca *pki.Pair, cn string) *pki.Pair {
	t.Helper()
	_, p := leaf(t, ca, cn)
	return p
}

// TestEdgeZoneLevel: the origin requiring CA A is reachable through the
// edge only once a certificate from A is uploaded, deployed and enabled.
func TestEdgeZoneLevel(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	e := newEdgeEnv(t, lab, startOrigin(t, lab, lab.CAA.Cert), cfsim.Options{DeployAfter: 1})

	e.wantVisit("a.example.test", 525, "error code: 525")
	id := e.upload("/origin_tls_client_auth", uploadBody(t, lab.ClientA))
	e.wantVisit("a.example.test", 525, "") // uploaded, not enabled
	e.call("PUT", e.zpath("/origin_tls_client_auth/settings"), map[string]bool{"enabled": true}).want(t, 200, 0)
	e.wantVisit("a.example.test", 525, "") // enabled, still deploying
	e.call("GET", e.zpath("/origin_tls_client_auth/"+id), nil).want(t, 200, 0)
	e.wantVisit("a.example.test", 200, "cn=client-A issuer=Lab AOP CA A sni=a.example.test host=a.example.test")

	// A certificate from the wrong CA fails the handshake the same way.
	other := issue(t, lab.CAB, "client-B2")
	e.upload("/origin_tls_client_auth", uploadBody(t, other))
	e.call("GET", e.zpath("/origin_tls_client_auth"), nil).want(t, 200, 0)
	e.wantVisit("a.example.test", 525, "") // newest active zone cert wins
	e.call("PUT", e.zpath("/origin_tls_client_auth/settings"), map[string]bool{"enabled": false}).want(t, 200, 0)
	e.wantVisit("a.example.test", 525, "")
}

// TestEdgePrecedence: per-hostname > enabled:false > zone-level > global.
func TestEdgePrecedence(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	e := newEdgeEnvWithGlobal(t, lab)

	e.upload("/origin_tls_client_auth", uploadBody(t, lab.ClientA))
	e.call("PUT", e.zpath("/origin_tls_client_auth/settings"), map[string]bool{"enabled": true}).want(t, 200, 0)
	hostCert := issue(t, lab.CAB, "host-a")
	hid := e.upload("/origin_tls_client_auth/hostnames/certificates", uploadBody(t, hostCert))
	assoc := func(host string, en any) {
		t.Helper()
		e.call("PUT", e.zpath("/origin_tls_client_auth/hostnames"),
			map[string]any{"config": []map[string]any{{"hostname": host, "cert_id": hid, "enabled": en}}}).want(t, 200, 0)
	}
	assoc("a.example.test", true)
	assoc("b.example.test", false)

	e.wantVisit("a.example.test", 200, "cn=host-a issuer=Lab AOP CA B")        // per-hostname beats zone-level
	e.wantVisit("b.example.test", 525, "")                                     // enabled:false: no certificate at all
	e.wantVisit("origin.example.test", 200, "cn=client-A issuer=Lab AOP CA A") // zone-level

	e.call("PUT", e.zpath("/origin_tls_client_auth/settings"), map[string]bool{"enabled": false}).want(t, 200, 0)
	e.call("PATCH", e.zpath("/settings/tls_client_auth"), map[string]string{"value": "on"}).want(t, 200, 0)
	e.wantVisit("origin.example.test", 200, "issuer="+cfsim.GlobalCACommonName) // global
	e.wantVisit("b.example.test", 525, "")                                      // enabled:false beats global too
	e.wantVisit("a.example.test", 200, "cn=host-a")

	// Voiding the association hands the hostname back to the lower levels.
	assoc("a.example.test", nil)
	e.wantVisit("a.example.test", 200, "issuer="+cfsim.GlobalCACommonName)
}

// newEdgeEnvWithGlobal builds an edge whose origin trusts CA A, CA B and
// the simulator's global stand-in CA.
func newEdgeEnvWithGlobal(t *testing.T, lab *pkitest.Lab) *edgeEnv {
	t.Helper()
	// The origin needs the sim's global CA, which exists only once the sim
	// does: start the origin on a reserved port after creating the env.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := newEdgeEnv(t, lab, ln.Addr().String(), cfsim.Options{})
	block, _ := pemDecode(e.sim.GlobalCAPEM())
	globalCA, err := x509.ParseCertificate(block)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, c := range []*x509.Certificate{lab.CAA.Cert, lab.CAB.Cert, globalCA} {
		pool.AddCert(c)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := r.TLS.PeerCertificates[0]
			fmt.Fprintf(w, "cn=%s issuer=%s sni=%s", c.Subject.CommonName, c.Issuer.CommonName, r.TLS.ServerName)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{lab.Server.TLSCertificate()},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool},
		ErrorLog: quietLog(),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return e
}

// TestEdgeSSLModes: off/flexible go over plain HTTP, full skips origin
// certificate checks, strict verifies them (526 otherwise).
func TestEdgeSSLModes(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain host=%s proto=%s", r.Host, r.Header.Get("X-Forwarded-Proto"))
	}))
	t.Cleanup(plain.Close)
	e := newEdgeEnv(t, lab, plain.Listener.Addr().String(), cfsim.Options{SSLMode: "flexible"})
	e.wantVisit("a.example.test", 200, "plain host=a.example.test proto=https")
	e.call("PATCH", e.zpath("/settings/ssl"), map[string]string{"value": "full"}).want(t, 200, 0)
	e.wantVisit("a.example.test", 525, "") // TLS to a plain-HTTP origin

	// An origin whose certificate the edge's roots do not cover: full
	// accepts it, strict and origin_pull answer 526.
	otherCA := newCA(t, "untrusted server CA")
	srvCert, err := pki.IssueServer(otherCA, pki.ServerOptions{CommonName: "a.example.test", DNSNames: []string{"a.example.test"}, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	tlsOrigin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls sni=%s", r.TLS.ServerName)
	}))
	tlsOrigin.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}}
	tlsOrigin.Config.ErrorLog = quietLog()
	tlsOrigin.StartTLS()
	t.Cleanup(tlsOrigin.Close)
	e2 := newEdgeEnv(t, lab, tlsOrigin.Listener.Addr().String(), cfsim.Options{SSLMode: "full"})
	e2.wantVisit("a.example.test", 200, "tls sni=a.example.test")
	for _, mode := range []string{"strict", "origin_pull"} {
		e2.call("PATCH", e2.zpath("/settings/ssl"), map[string]string{"value": mode}).want(t, 200, 0)
		e2.wantVisit("a.example.test", 526, "error code: 526")
	}
}

// TestEdgeOriginDown: a closed origin port is 521, a host outside the zone
// 530.
func TestEdgeOriginDown(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	e := newEdgeEnv(t, lab, pkitest.RefusedAddr(t), cfsim.Options{})
	e.wantVisit("a.example.test", 521, "error code: 521")
	e.wantVisit("www.example.org", 530, "")
}

// TestEdgeTLS12Rejection: a TLS 1.2 origin rejects a missing client
// certificate during the handshake; that is 525 as well.
func TestEdgeTLS12Rejection(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	pool := x509.NewCertPool()
	pool.AddCert(lab.CAA.Cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{lab.Server.TLSCertificate()}, MaxVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = quietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	e := newEdgeEnv(t, lab, srv.Listener.Addr().String(), cfsim.Options{})
	_, _, h := e.visit("a.example.test")
	if !strings.Contains(h.Get("X-Cfsim-Error"), "SSL handshake with the origin failed") {
		t.Fatalf("want a handshake failure, got %q", h.Get("X-Cfsim-Error"))
	}
	e.wantVisit("a.example.test", 525, "")
	e.upload("/origin_tls_client_auth", uploadBody(t, lab.ClientA))
	e.call("PUT", e.zpath("/origin_tls_client_auth/settings"), map[string]bool{"enabled": true}).want(t, 200, 0)
	e.wantVisit("a.example.test", 200, "ok")
}
