package cfsim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/cfapi/contract"
	"github.com/aopwizard/aopwizard/pki"
)

// env is a simulator behind an httptest server, optionally wrapped in the
// contract middleware.
type env struct {
	t     *testing.T
	sim   *cfsim.Sim
	srv   *httptest.Server
	log   *contract.Log
	zone  string // zone ID of the first zone
	token string
	// invalidRequests: the test sends requests the spec forbids, to see
	// cfsim refuse them; only its responses are held to the contract.
	invalidRequests bool
}

func newEnv(t *testing.T, opts cfsim.Options) *env {
	t.Helper()
	if opts.Zones == nil {
		opts.Zones = []string{"example.com"}
	}
	sim := cfsim.New(opts)
	e := &env{t: t, sim: sim, log: &contract.Log{}, token: sim.Token()}
	e.srv = httptest.NewServer(contract.Middleware(e.log, sim.Handler()))
	t.Cleanup(e.checkContract)
	t.Cleanup(e.srv.Close)
	e.zone = sim.ZoneID(opts.Zones[0])
	return e
}

type apiResp struct {
	Status int
	Header http.Header
	Raw    []byte
	Env    struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code       int    `json:"code"`
			Message    string `json:"message"`
			ErrorChain []struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error_chain"`
		} `json:"errors"`
		Messages   []any           `json:"messages"`
		Result     json.RawMessage `json:"result"`
		ResultInfo *struct {
			Page       int `json:"page"`
			PerPage    int `json:"per_page"`
			Count      int `json:"count"`
			TotalCount int `json:"total_count"`
			TotalPages int `json:"total_pages"`
		} `json:"result_info"`
	}
}

// code is the first error code, or 0.
func (r *apiResp) code() int {
	if len(r.Env.Errors) == 0 {
		return 0
	}
	return r.Env.Errors[0].Code
}

func (r *apiResp) message() string {
	if len(r.Env.Errors) == 0 {
		return ""
	}
	return r.Env.Errors[0].Message
}

func (r *apiResp) result(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Env.Result, v); err != nil {
		t.Fatalf("decode result %s: %v", r.Env.Result, err)
	}
}

// call sends a request with the simulator's token unless hdr overrides
// Authorization (an empty value removes it).
func (e *env) call(method, path string, body any, hdr ...string) *apiResp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+"/client/v4"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := &apiResp{Status: resp.StatusCode, Header: resp.Header}
	out.Raw, err = io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(out.Raw, &out.Env); err != nil {
		e.t.Fatalf("%s %s: response is not JSON: %s", method, path, out.Raw)
	}
	return out
}

// want asserts status and first error code (0: success).
func (r *apiResp) want(t *testing.T, status, code int) *apiResp {
	t.Helper()
	if r.Status != status || r.code() != code || r.Env.Success != (code == 0) {
		t.Fatalf("got %d code %d success %v, want %d code %d: %s", r.Status, r.code(), r.Env.Success, status, code, r.Raw)
	}
	if r.Env.Errors == nil || r.Env.Messages == nil {
		t.Fatalf("errors and messages must be arrays, never null: %s", r.Raw)
	}
	return r
}

// checkContract fails the test on contract violations once it ends, so no
// test can forget to look: every response must match the spec, and every
// request too unless the test sends invalid ones on purpose.
func (e *env) checkContract() {
	e.t.Helper()
	for _, v := range e.log.Violations() {
		// A request outside the spec has no operation to check either
		// its body or the response against.
		invalid := strings.HasPrefix(v, "contract: request ") || strings.Contains(v, "is not an operation of the spec")
		if e.invalidRequests && invalid {
			continue
		}
		e.t.Error(v)
	}
}

func (e *env) zpath(p string) string { return "/zones/" + e.zone + p }

// leaf issues a client certificate from ca and returns the upload body.
func leaf(t *testing.T, ca *pki.Pair, cn string) (map[string]string, *pki.Pair) {
	t.Helper()
	p, err := pki.IssueClient(ca, pki.ClientOptions{CommonName: cn, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	return uploadBody(t, p), p
}

func uploadBody(t *testing.T, p *pki.Pair) map[string]string {
	t.Helper()
	k, err := p.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"certificate": string(p.CertPEM()), "private_key": string(k)}
}

func newCA(t *testing.T, cn string) *pki.Pair {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: cn, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

type certResult struct {
	ID           string  `json:"id"`
	Certificate  string  `json:"certificate"`
	Issuer       string  `json:"issuer"`
	Signature    string  `json:"signature"`
	Status       string  `json:"status"`
	ExpiresOn    string  `json:"expires_on"`
	UploadedOn   string  `json:"uploaded_on"`
	SerialNumber string  `json:"serial_number"`
	PrivateKey   *string `json:"private_key"`
}

type assocResult struct {
	Hostname   string `json:"hostname"`
	CertID     string `json:"cert_id"`
	Enabled    *bool  `json:"enabled"`
	Status     string `json:"status"`
	CertStatus string `json:"cert_status"`
	Serial     string `json:"serial_number"`
}
