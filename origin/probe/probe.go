// Package probe connects straight to an origin (bypassing Cloudflare) with
// and without client certificates and classifies what the origin does with
// each: accept, reject at the HTTP layer (nginx answers 400), reject in TLS
// (Apache, HAProxy, Go servers send an alert), or cannot be reached.
//
// The technique is the one measured in docs/origin-servers.md, "What
// clients see" and "Probing technique": the
// certificate under test is offered through GetClientCertificate (never
// tls.Config.Certificates, which silently sends nothing when the cert does
// not chain to an announced CA). After a TLS 1.3 handshake the probe writes
// its request at once and takes an alert arriving in place of the response
// as the rejection; when a TCP reset may have swallowed that alert, it asks
// again reading before it writes.
package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Class is the outcome of one probe.
type Class string

// Outcome classes. Only accepted and the two rejected classes are answers
// about client authentication; unreachable and inconclusive say the probe
// could not tell.
const (
	Accepted     Class = "accepted"
	RejectedHTTP Class = "rejected_http"
	RejectedTLS  Class = "rejected_tls"
	Unreachable  Class = "unreachable"
	Inconclusive Class = "inconclusive"
)

// Kind says which certificate a case presents; Expect uses it to decide
// what a phase requires.
type Kind string

// The four standard cases.
const (
	KindNoCert  Kind = "no-cert"    // no certificate at all
	KindRight   Kind = "right-cert" // the certificate the origin must accept (Cloudflare's or ours)
	KindWrongCA Kind = "wrong-ca"   // a certificate from a throwaway CA the origin must not trust
	KindExpired Kind = "expired"    // an expired certificate from the right CA
)

// Defaults for Target's timeouts.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultAlertWait bounds the wait for a post-handshake TLS 1.3 alert
	// when a probe has to read before it writes (see Probe): a rejecting
	// server sends it one round trip after our Finished.
	DefaultAlertWait = time.Second
)

// Target is one origin address and the names to use on it.
type Target struct {
	// Addr is the origin's "IP:port" (or "host:port").
	Addr string
	// SNI is the TLS server name; empty sends none.
	SNI string
	// Host is the HTTP Host header; empty means SNI, else Addr's host.
	Host string
	// Path is the request path; empty means "/".
	Path string
	// RootCAs verifies the origin's server certificate; nil skips the
	// check. A failed check is reported in Result.ServerCertError and does
	// not stop the client-authentication probe.
	RootCAs *x509.CertPool
	// Timeout bounds the whole probe (dial, handshake, request); zero
	// means DefaultTimeout.
	Timeout time.Duration
	// AlertWait overrides DefaultAlertWait. Probes that get an answer or
	// an alert never wait for it.
	AlertWait time.Duration
	// MaxVersion caps the TLS version (tls.VersionTLS12 to see how an
	// origin rejects on TLS 1.2); zero means TLS 1.3.
	MaxVersion uint16
}

// Case is one client certificate to present.
type Case struct {
	// Name labels the case in results; empty means Kind.
	Name string
	Kind Kind
	// Cert is presented when the origin asks for one; nil sends none.
	Cert *tls.Certificate
}

// Result is what one probe found.
type Result struct {
	Addr string `json:"addr"`
	SNI  string `json:"sni,omitempty"`
	Host string `json:"host"`
	Case string `json:"case"`
	Kind Kind   `json:"kind,omitempty"`

	Class      Class `json:"class"`
	HTTPStatus int   `json:"http_status,omitempty"`
	// Alert is the TLS alert received ("unknown ca"), or "reset" when the
	// connection was closed right after the handshake without one.
	Alert     string `json:"alert,omitempty"`
	AlertCode int    `json:"alert_code,omitempty"`
	// Reason refines unreachable: refused, timeout, DNS, unreachable.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`

	TLSVersion    string `json:"tls_version,omitempty"`
	CertRequested bool   `json:"cert_requested"`
	CertSent      bool   `json:"cert_sent"`
	// AcceptableCAs are the CA names the origin announced in its
	// CertificateRequest (RFC 2253-ish, as pkix.Name.String).
	AcceptableCAs []string `json:"acceptable_cas,omitempty"`
	// OurCAAnnounced says whether the issuer of the presented certificate is
	// among AcceptableCAs; nil when no cert was presented or the origin
	// announced no names (Envoy may send none: inconclusive, not a failure).
	OurCAAnnounced *bool `json:"our_ca_announced,omitempty"`
	// ServerCertError is set when RootCAs was given and the origin's own
	// certificate does not verify for SNI; separate from client auth.
	ServerCertError string `json:"server_cert_error,omitempty"`
}

// String is the human form: "accepted (HTTP 200)", "rejected at TLS
// (alert: unknown ca)", "unreachable (refused)".
func (r Result) String() string {
	switch r.Class {
	case Accepted:
		return fmt.Sprintf("accepted (HTTP %d)", r.HTTPStatus)
	case RejectedHTTP:
		return strings.TrimSpace(fmt.Sprintf("rejected at HTTP (%d %s)", r.HTTPStatus, r.Detail))
	case RejectedTLS:
		if r.Alert == "reset" {
			return "rejected at TLS (reset)"
		}
		return fmt.Sprintf("rejected at TLS (alert: %s)", r.Alert)
	case Unreachable:
		return fmt.Sprintf("unreachable (%s)", r.Reason)
	}
	if r.Detail == "" {
		return string(r.Class)
	}
	return fmt.Sprintf("%s (%s)", r.Class, r.Detail)
}

// RunOptions tune Run.
type RunOptions struct {
	// Concurrency is how many probes run at once; less than 1 means 1.
	Concurrency int
	// OnResult, when set, receives each result as soon as its probe ends,
	// with its index in Run's target-major result slice. Calls never
	// overlap, so the callback needs no locking of its own.
	OnResult func(index int, r Result)
}

// Run probes every target with every case, at most opts.Concurrency at a
// time, and returns the results in target-major order. It checks every
// target first and returns the first unusable one's *InputError without
// connecting anywhere. A cancelled ctx makes the remaining probes
// inconclusive.
func Run(ctx context.Context, targets []Target, cases []Case, opts RunOptions) ([]Result, error) {
	for _, t := range targets {
		if err := t.Validate(); err != nil {
			return nil, err
		}
	}
	concurrency := max(opts.Concurrency, 1)
	results := make([]Result, len(targets)*len(cases))
	sem := make(chan struct{}, concurrency)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, t := range targets {
		for j, c := range cases {
			wg.Go(func() {
				k := i*len(cases) + j
				select {
				case sem <- struct{}{}:
					results[k] = Probe(ctx, t, c)
					<-sem
				case <-ctx.Done():
					results[k] = Probe(ctx, t, c) // classifies the cancellation
				}
				if opts.OnResult != nil {
					mu.Lock()
					defer mu.Unlock()
					opts.OnResult(k, results[k])
				}
			})
		}
	}
	wg.Wait()
	return results, nil
}

// Probe makes one connection to t presenting c's certificate and
// classifies the outcome. It never returns an error: every failure,
// including an unusable t (see Target.Validate), is a Result.
//
// On TLS 1.3 the request is written right after the handshake: a
// rejecting origin's post-handshake alert then arrives in place of the
// response, and an accepting one answers at once, so no probe waits for
// an alert that will not come. Only when that connection ends without
// an alert or a response (a rejecting origin that closed while our
// request was in flight can lose its alert in the TCP reset, measured
// with Go servers) is the probe repeated the slow, unambiguous way:
// read first, for up to AlertWait, then write.
func Probe(ctx context.Context, t Target, c Case) Result {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, ambiguous := probeOnce(ctx, t, c, false)
	if ambiguous {
		r, _ = probeOnce(ctx, t, c, true)
	}
	return r
}

// probeOnce is one connection. With readFirst it waits for a TLS 1.3
// alert before writing; without, it writes at once and reports ambiguous
// when the origin closed without an alert or an answer.
func probeOnce(ctx context.Context, t Target, c Case, readFirst bool) (r Result, ambiguous bool) {
	r = Result{Addr: t.Addr, SNI: t.SNI, Host: t.hostHeader(), Case: c.Name, Kind: c.Kind}
	if r.Case == "" {
		r.Case = string(c.Kind)
	}
	if err := t.Validate(); err != nil {
		r.Class, r.Detail = Inconclusive, err.Error()
		return r, false
	}

	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		classifyDialError(ctx, &r, err)
		return r, false
	}
	defer raw.Close()
	// The deadline covers everything that does not take ctx (reads/writes).
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	conn := tls.Client(raw, t.tlsConfig(c, &r))
	if err := conn.HandshakeContext(ctx); err != nil {
		classifyHandshakeError(ctx, &r, err)
		return r, false
	}
	st := conn.ConnectionState()
	r.TLSVersion = tls.VersionName(st.Version)

	// TLS 1.2 finishes only after the server has checked our certificate,
	// so a rejection is already a handshake error. In TLS 1.3 our side is
	// done first and a rejection comes later, as an alert.
	// One buffered reader serves the alert peek and the response, so a
	// byte the peek sees is still there for http.ReadResponse.
	br := bufio.NewReader(conn)
	late := st.Version >= tls.VersionTLS13 && r.CertRequested
	if late && readFirst {
		if done := peekForAlert(ctx, br, raw, t.alertWait(), &r); done {
			return r, false
		}
	}
	return r, doRequest(ctx, conn, br, t, &r, late && !readFirst)
}
func (t Target) hostHeader() string {
	if t.Host != "" {
		return t.Host
	}
	if t.SNI != "" {
		return t.SNI
	}
	return t.Addr
}

func (t Target) alertWait() time.Duration {
	if t.AlertWait > 0 {
		return t.AlertWait
	}
	return DefaultAlertWait
}

func (t Target) tlsConfig(c Case, r *Result) *tls.Config {
	cfg := &tls.Config{
		ServerName: t.SNI,
		// The server certificate is checked in VerifyConnection so a
		// mismatch is reported, not fatal: the client-auth answer is still
		// worth having.
		InsecureSkipVerify: true, //nolint:gosec // verified below when RootCAs is set
		MinVersion:         tls.VersionTLS12,
		MaxVersion:         t.MaxVersion,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			r.CertRequested = true
			r.AcceptableCAs = caNames(cri.AcceptableCAs)
			if c.Cert == nil || len(c.Cert.Certificate) == 0 {
				return &tls.Certificate{}, nil // empty = send no certificate
			}
			r.CertSent = true
			r.OurCAAnnounced = issuerAnnounced(c.Cert, cri.AcceptableCAs)
			return c.Cert, nil
		},
	}
	if t.RootCAs != nil {
		name := t.SNI
		if name == "" {
			name, _, _ = net.SplitHostPort(t.Addr)
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := verifyServer(cs, t.RootCAs, name); err != nil {
				r.ServerCertError = err.Error()
			}
			return nil
		}
	}
	return cfg
}

func verifyServer(cs tls.ConnectionState, roots *x509.CertPool, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("origin sent no server certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName: name, Roots: roots, Intermediates: inter,
	})
	return err
}

// caNames turns the DER RDNSequences of a CertificateRequest into names.
func caNames(ders [][]byte) []string {
	if len(ders) == 0 {
		return nil
	}
	names := make([]string, 0, len(ders))
	for _, der := range ders {
		var seq pkix.RDNSequence
		if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 {
			names = append(names, fmt.Sprintf("(unparsable name, %d bytes)", len(der)))
			continue
		}
		var n pkix.Name
		n.FillFromRDNSequence(&seq)
		names = append(names, n.String())
	}
	return names
}

func issuerAnnounced(cert *tls.Certificate, acceptable [][]byte) *bool {
	if len(acceptable) == 0 {
		return nil
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil
		}
	}
	found := false
	for _, der := range acceptable {
		if bytes.Equal(der, leaf.RawIssuer) {
			found = true
			break
		}
	}
	return &found
}

// peekForAlert peeks at one byte under a short deadline (a timeout leaves
// the TLS connection usable). It reports true when the probe is finished
// (an alert, a reset, or cancellation).
func peekForAlert(ctx context.Context, br *bufio.Reader, raw net.Conn, wait time.Duration, r *Result) bool {
	deadline := time.Now().Add(wait)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = raw.SetReadDeadline(deadline)
	b, err := br.Peek(1)
	if len(b) > 0 {
		// Application data before any request: not an alert. Classify on
		// the HTTP answer we are about to ask for.
		r.Detail = "origin sent data before the request"
	}
	var ne net.Error
	switch {
	case err == nil:
	case ctx.Err() != nil:
		inconclusive(r, ctx, err)
		return true
	case errors.As(err, &ne) && ne.Timeout():
		// No alert within the wait: accepted at the TLS level.
	default:
		if !rejectedTLS(r, err) {
			inconclusive(r, ctx, err)
		}
		return true
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetReadDeadline(dl)
	} else {
		_ = raw.SetReadDeadline(time.Time{})
	}
	return false
}

// maxBody bounds how much of a response body is read to recognise nginx's
// client-certificate error pages.
const maxBody = 8 << 10

// doRequest writes the request and classifies the answer. With
// mayBeLost (TLS 1.3, not yet peeked) it reports true instead of
// classifying when the origin closed without an alert or a response.
func doRequest(ctx context.Context, conn *tls.Conn, br *bufio.Reader, t Target, r *Result, mayBeLost bool) bool {
	path := t.Path
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+hostForURL(r.Host)+path, nil)
	if err != nil {
		r.Class, r.Detail = Inconclusive, fmt.Sprintf("build request: %v", err)
		return false
	}
	req.Host = r.Host
	req.Header.Set("User-Agent", "aopwizard-probe")
	req.Close = true
	if werr := req.Write(conn); werr != nil {
		// A rejecting origin may have closed already; its alert can still
		// be waiting in our receive buffer.
		if _, rerr := br.Peek(1); rerr != nil && rejectedByAlert(r, rerr) {
			return false
		}
		if mayBeLost && ctx.Err() == nil && isReset(werr) {
			return true
		}
		if !rejectedTLS(r, werr) {
			inconclusive(r, ctx, werr)
		}
		return false
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		// An alert here is a rejection (written at once, or a slow link
		// beat AlertWait). After a peek, a bare EOF is not: the origin
		// accepted the TLS session and then said nothing at HTTP.
		if rejectedByAlert(r, err) {
			return false
		}
		if mayBeLost && ctx.Err() == nil && isReset(err) {
			return true
		}
		inconclusive(r, ctx, fmt.Errorf("no HTTP response: %w", err))
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	r.HTTPStatus = resp.StatusCode
	r.Class, r.Detail = classifyHTTP(resp.StatusCode, body)
	return false
}

// rejectedByAlert fills r when err carries a received TLS alert.
func rejectedByAlert(r *Result, err error) bool {
	if _, ok := remoteAlert(err); !ok {
		return false
	}
	return rejectedTLS(r, err)
}

// hostForURL makes a Host value safe inside a URL; the header itself is set
// verbatim.
func hostForURL(h string) string {
	if h == "" || strings.ContainsAny(h, "/?#@ ") {
		return "origin.invalid"
	}
	return h
}

// nginx's own error pages for client-certificate failures
// (docs/origin-servers.md, "What clients see").
var nginxCertErrors = []string{noCertPage, "The SSL certificate error"}

// The Detail of the HTTP rejections that mean "no client certificate":
// nginx's error page, and the bare 496 status.
const (
	noCertPage   = "No required SSL certificate was sent"
	noCertStatus = "SSL certificate required"
)

// NoCertPage reports whether a rejected_http Detail is the origin refusing
// a request for carrying no client certificate, as opposed to an
// application's own 403 or 421.
func NoCertPage(detail string) bool { return detail == noCertPage || detail == noCertStatus }

func classifyHTTP(status int, body []byte) (Class, string) {
	for _, s := range nginxCertErrors {
		if bytes.Contains(body, []byte(s)) {
			return RejectedHTTP, s
		}
	}
	switch status {
	case 495:
		return RejectedHTTP, "SSL certificate error"
	case 496:
		return RejectedHTTP, noCertStatus
	case http.StatusMisdirectedRequest:
		return RejectedHTTP, "Misdirected Request"
	case http.StatusForbidden:
		// A common mapping of failed client auth (HAProxy deny, Apache
		// Require expr); an application 403 reads the same, so say both.
		return RejectedHTTP, "Forbidden (a mapped client-certificate rejection, or the application's own 403: probe a path the application answers)"
	}
	// Anything else got through TLS and the client-certificate gate.
	return Accepted, ""
}

// TLS alert descriptions (RFC 8446 §6, RFC 5246 §7.2) for the alerts a
// client-auth rejection produces, in the words operators see from curl.
var alertNames = map[uint8]string{
	40:  "handshake failure",
	42:  "bad certificate",
	43:  "unsupported certificate",
	44:  "certificate revoked",
	45:  "certificate expired",
	46:  "certificate unknown",
	48:  "unknown ca",
	49:  "access denied",
	116: "certificate required",
}

// goAlertText maps crypto/tls's alert strings back to codes, for when the
// error's dynamic type is not the uint8 alert (a wrapped error).
var goAlertText = map[string]uint8{
	"handshake failure":             40,
	"bad certificate":               42,
	"unsupported certificate":       43,
	"revoked certificate":           44,
	"expired certificate":           45,
	"unknown certificate":           46,
	"unknown certificate authority": 48,
	"access denied":                 49,
	"certificate required":          116,
}

// AlertName returns the description of a TLS alert code.
func AlertName(code uint8) string {
	if n, ok := alertNames[code]; ok {
		return n
	}
	return "alert " + strconv.Itoa(int(code))
}

// remoteAlert extracts a received alert: crypto/tls reports it as a
// *net.OpError{Op: "remote error"} around its unexported uint8 alert type.
// errors.As(err, &tls.AlertError{}) does not match received alerts.
func remoteAlert(err error) (uint8, bool) {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "remote error" || oe.Err == nil {
		return 0, false
	}
	if code, ok := asUint8(oe.Err); ok {
		return code, true
	}
	msg := strings.TrimPrefix(oe.Err.Error(), "tls: ")
	if code, ok := goAlertText[msg]; ok {
		return code, true
	}
	return 0, true
}

// asUint8 reads crypto/tls's unexported alert type, a uint8.
func asUint8(err error) (uint8, bool) {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Uint8 {
		return 0, false
	}
	return uint8(v.Uint()), true
}

// isReset reports a connection closed or reset without an alert.
func isReset(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// rejectedTLS fills r when err is an alert or a reset and reports whether
// it did.
func rejectedTLS(r *Result, err error) bool {
	if code, ok := remoteAlert(err); ok {
		r.Class, r.AlertCode, r.Alert = RejectedTLS, int(code), AlertName(code)
		r.Detail = err.Error()
		return true
	}
	if isReset(err) {
		r.Class, r.Alert = RejectedTLS, "reset"
		r.Detail = "connection closed without an alert right after the handshake (a rejection whose alert was lost): " + err.Error()
		return true
	}
	return false
}

func inconclusive(r *Result, ctx context.Context, err error) {
	r.Class = Inconclusive
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		r.Detail = "cancelled"
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		r.Detail = "timed out: " + err.Error()
	default:
		r.Detail = err.Error()
	}
}

func classifyHandshakeError(ctx context.Context, r *Result, err error) {
	// Only a failure after the origin asked for a certificate can be a
	// client-auth rejection; earlier ones (protocol version, no common
	// cipher, plain HTTP on the port) say nothing about AOP.
	if r.CertRequested && ctx.Err() == nil && rejectedTLS(r, err) {
		return
	}
	inconclusive(r, ctx, fmt.Errorf("TLS handshake: %w", err))
}

func classifyDialError(ctx context.Context, r *Result, err error) {
	r.Class, r.Detail = Unreachable, err.Error()
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &dnsErr):
		r.Reason = "DNS"
	case errors.Is(err, syscall.ECONNREFUSED):
		r.Reason = "refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		r.Reason = "timeout"
	case ctx.Err() != nil:
		r.Class, r.Detail = Inconclusive, "cancelled"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		r.Reason = "unreachable"
	default:
		r.Reason = "error"
	}
}
