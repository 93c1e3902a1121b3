package steps

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aopwizard/aopwizard/origin/evidence"
	"github.com/aopwizard/aopwizard/origin/render"
)

// HTTPEdge sends one request through Cloudflare's edge per hostname and
// reads back the CF-Ray the edge answers with. Addr, when set, is dialled
// instead of the hostname's DNS answer (the simulator's edge, or one chosen
// Cloudflare address), with SNI and Host kept, so the request takes the
// path real visitors take.
type HTTPEdge struct {
	Addr    string         // host:port; empty = the hostname on port 443
	RootCAs *x509.CertPool // nil = the system's roots
	Timeout time.Duration  // per request; default 15s
}

// maxEdgeBody bounds what is read of the edge's answer: only the status
// and headers matter.
const maxEdgeBody = 64 << 10

// CheckEdge implements EdgeChecker. Verified stays false: only the origin's
// evidence log can say that (see edgeProof).
func (e *HTTPEdge) CheckEdge(ctx context.Context, hostname string) (EdgeResult, error) {
	res := EdgeResult{Hostname: hostname}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	dialer := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{ServerName: hostname, RootCAs: e.RootCAs, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if e.Addr != "" {
				addr = e.Addr
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+hostname+"/", nil)
	if err != nil {
		return res, err
	}
	req.Header.Set("User-Agent", "aopwizard-edge-check")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return res, fmt.Errorf("request through the edge: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxEdgeBody))
	res.Status, res.Ray = resp.StatusCode, resp.Header.Get("Cf-Ray")
	if res.Ray == "" {
		return res, fmt.Errorf("the answer (HTTP %d) has no CF-Ray header: it did not come through Cloudflare's edge", res.Status)
	}
	return res, nil
}

// evidenceLog is the rollout's evidence log path: the one given, else the
// server's default for the zone.
func (r *Rollout) evidenceLog() string {
	if p := r.Inputs.Origin.AccessLog; p != "" {
		return p
	}
	return render.DefaultAccessLog(render.Server(r.Inputs.Server), r.Inputs.Zone)
}

// rayWait bounds how long the origin may take to write a request's log
// line after answering it (servers log when the request ends).
var rayWait = 10 * time.Second

// findRay polls the evidence log until ray appears or rayWait passes. ok is
// false with a nil error when the log is readable but the ray never came.
func findRay(ctx context.Context, path, ray string) (evidence.RaySeen, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, rayWait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		rep, err := evidence.ReadFiles(ctx, []string{path}, evidence.Options{Rays: []string{ray}})
		if err != nil && ctx.Err() == nil {
			return evidence.RaySeen{}, false, err
		}
		if err == nil {
			if seen, ok := rep.Ray(ray); ok {
				return seen, true, nil
			}
		}
		select {
		case <-ctx.Done():
			return evidence.RaySeen{}, false, nil
		case <-tick.C:
		}
	}
}

// edgeProof sends a request through the edge to every hostname and looks
// for its CF-Ray in the origin's evidence log: found with a verified client
// certificate is the end-to-end proof that Cloudflare presents the
// certificate the origin trusts. When the log is not on this machine, an
// answer from the origin through the edge is reported, unproven in the
// soft phase (where the origin serves every request anyway).
//
// proven is true when every hostname's request was found verified.
func edgeProof(ctx context.Context, env *Env) (failures []string, proven bool) {
	if env.Edge == nil {
		env.info("proof through the edge not run (no edge check configured)", "check", "edge")
		return nil, false
	}
	r := env.Rollout
	hosts := r.Inputs.Hostnames
	if len(hosts) == 0 {
		hosts = []string{r.Inputs.Zone}
	}
	logPath := r.evidenceLog()
	_, statErr := os.Stat(logPath)
	proven = true
	for _, h := range hosts {
		res, err := env.Edge.CheckEdge(ctx, h)
		if err == nil && (res.Status < 200 || res.Status > 399) {
			err = fmt.Errorf("HTTP %d through the edge (cf-ray %s)", res.Status, res.Ray)
		}
		if err == nil && statErr == nil {
			var seen evidence.RaySeen
			var found bool
			seen, found, err = findRay(ctx, logPath, res.Ray)
			switch {
			case err != nil:
			case !found:
				err = fmt.Errorf("cf-ray %s is not in the origin's evidence log %s after %s: the request did not reach this origin", res.Ray, logPath, rayWait)
			case seen.Verify != evidence.VerifySuccess:
				err = fmt.Errorf("the origin logged cf-ray %s with verification %s %s: Cloudflare does not present a certificate this origin trusts", res.Ray, seen.Verify, seen.Reason)
			default:
				res.Verified = true
				res.Detail = "issued by " + seen.Issuer
			}
		}
		if err != nil {
			failures = append(failures, "edge "+h+": "+err.Error())
			continue
		}
		kv := []string{"check", "edge", "hostname", h, "cf_ray", res.Ray, "status", strconv.Itoa(res.Status), "verified", strconv.FormatBool(res.Verified)}
		proven = proven && res.Verified
		if res.Verified {
			env.info(fmt.Sprintf("edge %s: HTTP %d, cf-ray %s found in the origin's log with a verified client certificate (%s)", h, res.Status, res.Ray, res.Detail), kv...)
			continue
		}
		env.warn(fmt.Sprintf("edge %s: HTTP %d, cf-ray %s; the origin's log %s is not readable here (%v), so whether it verified the certificate is unproven", h, res.Status, res.Ray, logPath, errors.Unwrap(statErr)), kv...)
	}
	return failures, proven && len(failures) == 0
}
