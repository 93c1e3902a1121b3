// Package contract checks HTTP traffic against Cloudflare's published
// OpenAPI spec (the AOP subset in cfapi/openapi), so the simulator and the
// client are held to the same contract. Where the 2024 spec is older than
// docs/cloudflare-api.md, exceptions.go patches it; nothing else is relaxed.
package contract

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/aopwizard/aopwizard/cfapi/openapi"
)

// specHost is the host of the spec's only server; requests to the
// simulator are matched as if they went there.
const specHost = "api.cloudflare.com"

// Validator validates requests and responses against the patched spec.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

var loadOnce = sync.OnceValues(load)

// Load parses the embedded spec once, applies the documented exceptions
// and returns a validator shared by every caller.
func Load() (*Validator, error) { return loadOnce() }

func load() (*Validator, error) {
	var raw map[string]any
	if err := json.Unmarshal(openapi.Spec, &raw); err != nil {
		return nil, fmt.Errorf("parse the embedded openapi spec: %w", err)
	}
	for _, ex := range Exceptions {
		if err := ex.apply(raw); err != nil {
			return nil, fmt.Errorf("apply spec exception %q: %w", ex.Name, err)
		}
	}
	patched, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("encode the patched openapi spec: %w", err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(patched)
	if err != nil {
		return nil, fmt.Errorf("load the openapi spec: %w", err)
	}
	// Cloudflare's examples are sloppy (strings where arrays are declared);
	// they are documentation, not contract.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("the patched openapi spec is invalid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("build the openapi router: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

func options() *openapi3filter.Options {
	return &openapi3filter.Options{
		// Credentials are the simulator's business, and the spec's
		// security schemes say nothing a schema check could verify.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		MultiError:         true,
	}
}

// input finds the spec operation for req; req's body is replaced by body.
func (v *Validator) input(req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	r := req.Clone(req.Context())
	u := *req.URL
	u.Scheme, u.Host = "https", specHost
	r.URL, r.Host = &u, specHost
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return nil, fmt.Errorf("%s %s is not an operation of the spec: %w", req.Method, req.URL.Path, err)
	}
	return &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: options()}, nil
}

// ValidateRequest checks method, path, parameters and body of req (whose
// body has been read into body).
func (v *Validator) ValidateRequest(req *http.Request, body []byte) error {
	in, err := v.input(req, body)
	if err != nil {
		return err
	}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		return fmt.Errorf("request %s %s: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// ValidateResponse checks a response to req against the operation's
// documented responses. Statuses the spec does not document (5xx) pass.
func (v *Validator) ValidateResponse(req *http.Request, status int, header http.Header, body []byte) error {
	in, err := v.input(req, nil)
	if err != nil {
		return err
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                options(),
	}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		return fmt.Errorf("response %d to %s %s: %w", status, req.Method, req.URL.Path, err)
	}
	return nil
}

// Reporter receives violations; testing.TB satisfies it, and so does *Log.
type Reporter interface {
	Errorf(format string, args ...any)
}

// Log collects violations for tests that inspect them instead of failing.
type Log struct {
	mu sync.Mutex
	v  []string
}

// Errorf records one violation.
func (l *Log) Errorf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.v = append(l.v, fmt.Sprintf(format, args...))
}

// Violations returns the recorded violations.
func (l *Log) Violations() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.v...)
}

// Transport validates every request and response passing through base
// (http.DefaultTransport if nil) and reports violations to rep. It never
// changes the traffic.
func Transport(rep Reporter, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{rep: rep, base: base}
}

type transport struct {
	rep  Reporter
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	v, err := Load()
	if err != nil {
		t.rep.Errorf("contract: %v", err)
		return t.base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("contract: read the request body: %w", err)
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	if err := v.ValidateRequest(req, body); err != nil {
		t.rep.Errorf("contract: %v", err)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	rb, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	if rerr != nil {
		// Hand the client what arrived and the error, as the wire would.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(rb), errReader{rerr}))
		return resp, nil
	}
	if err := v.ValidateResponse(req, resp.StatusCode, resp.Header, rb); err != nil {
		t.rep.Errorf("contract: %v", err)
	}
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Middleware validates every request to h and h's response, reporting
// violations to rep. Responses dropped by hijacking (simulated resets) are
// not validated.
func Middleware(rep Reporter, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		v, err := Load()
		if err != nil {
			rep.Errorf("contract: %v", err)
			h.ServeHTTP(w, req)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, "contract: cannot read the request body", http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if err := v.ValidateRequest(req, body); err != nil {
			rep.Errorf("contract: %v", err)
		}
		cw := &captureWriter{ResponseWriter: w}
		h.ServeHTTP(cw, req)
		if cw.hijacked {
			return
		}
		if cw.status == 0 {
			cw.status = http.StatusOK
		}
		if err := v.ValidateResponse(req, cw.status, w.Header(), cw.buf.Bytes()); err != nil {
			rep.Errorf("contract: %v", err)
		}
	})
}

// captureWriter passes the response through and keeps a copy.
type captureWriter struct {
	http.ResponseWriter
	status   int
	buf      bytes.Buffer
	hijacked bool
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.buf.Write(p)
	return c.ResponseWriter.Write(p)
}

func (c *captureWriter) Hijack() (conn net.Conn, rw *bufio.ReadWriter, err error) {
	hj, ok := c.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("contract: the response writer cannot be hijacked")
	}
	c.hijacked = true
	return hj.Hijack()
}
