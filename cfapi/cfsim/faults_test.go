package cfsim_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// faultedIndices sends n requests and returns the indices the simulator
// faulted.
func faultedIndices(t *testing.T, opts cfsim.Options, n int) []int {
	t.Helper()
	e := newEnv(t, opts)
	for range n {
		req, _ := http.NewRequest("GET", e.srv.URL+"/client/v4/zones", nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var out []int
	for _, r := range e.sim.Requests() {
		if r.Faulted {
			out = append(out, r.Index)
		}
	}
	return out
}

func TestFaultsDeterministicBySeed(t *testing.T) {
	t.Parallel()
	opts := func(seed int64) cfsim.Options {
		return cfsim.Options{Seed: seed, Faults: cfsim.Faults{Rate: 0.3}}
	}
	a, b, c := faultedIndices(t, opts(42), 60), faultedIndices(t, opts(42), 60), faultedIndices(t, opts(43), 60)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults: %v vs %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatalf("different seeds gave the same faults %v", a)
	}
	if len(a) < 6 || len(a) > 36 {
		t.Fatalf("rate 0.3 faulted %d of 60 requests", len(a))
	}
}

func TestFault429HasNoSideEffect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{Faults: cfsim.Faults{Sequence: []cfsim.FaultKind{cfsim.Fault429}, RetryAfter: 7}})
	body, _ := leaf(t, newCA(t, "example.com"), "example.com")
	r := e.call("POST", e.zpath("/origin_tls_client_auth"), body).want(t, 429, cfsim.CodeRateLimited)
	if r.Header.Get("Retry-After") != "7" || r.Header.Get("X-Ratelimit-Remaining") != "0" || r.Header.Get("X-Ratelimit-Reset") == "" ||
		r.message() != "Please wait and consider throttling your request speed" {
		t.Fatalf("429 headers %v body %s", r.Header, r.Raw)
	}
	if e.sim.Uploads("example.com") != 0 || len(e.sim.Certificates("example.com")) != 0 {
		t.Fatal("a rate-limited upload was applied")
	}
	e.call("POST", e.zpath("/origin_tls_client_auth"), body).want(t, 200, 0) // the retry
	if e.sim.Uploads("example.com") != 1 {
		t.Fatal("the retry did not upload")
	}
}

func TestFault5xx(t *testing.T) {
	t.Parallel()
	seq := slices.Repeat([]cfsim.FaultKind{cfsim.Fault5xx}, 12)
	e := newEnv(t, cfsim.Options{Faults: cfsim.Faults{Sequence: seq}})
	statuses := map[int]bool{}
	for range 12 {
		req, _ := http.NewRequest("PATCH", e.srv.URL+"/client/v4"+e.zpath("/settings/ssl"), strings.NewReader(`{"value":"strict"}`))
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		statuses[resp.StatusCode] = true
		switch resp.StatusCode {
		case 502:
			if !strings.Contains(buf.String(), "<center>cloudflare</center>") {
				t.Fatalf("502 should be Cloudflare's HTML page: %s", buf.String())
			}
		case 500, 503:
			if !strings.Contains(buf.String(), `"success":false`) {
				t.Fatalf("%d should be an envelope: %s", resp.StatusCode, buf.String())
			}
		default:
			t.Fatalf("5xx fault answered %d", resp.StatusCode)
		}
	}
	if len(statuses) < 2 {
		t.Fatalf("12 faults used only %v", statuses)
	}
	if e.sim.SSLMode("example.com") != "full" {
		t.Fatal("a faulted PATCH was applied")
	}
}

// upload posts body on a fresh connection and returns the transport error.
func rawUpload(t *testing.T, e *env, body map[string]string) error {
	t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+"/client/v4"+e.zpath("/origin_tls_client_auth"), bytes.NewReader(j))
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	// No keep-alive: Go's transport would silently retry a reset request
	// on a reused connection, hiding the fault.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func TestFaultResetDropsConnectionWithoutEffect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{Faults: cfsim.Faults{Sequence: []cfsim.FaultKind{cfsim.FaultReset}}})
	body, _ := leaf(t, newCA(t, "example.com"), "example.com")
	err := rawUpload(t, e, body)
	if err == nil {
		t.Fatal("a reset request got a response")
	}
	if e.sim.Uploads("example.com") != 0 {
		t.Fatal("a reset upload was applied")
	}
	log := e.sim.Requests()
	if len(log) != 1 || !log[0].Faulted || log[0].Fault != cfsim.FaultReset || log[0].Status != 0 {
		t.Fatalf("request log %+v", log)
	}
	t.Logf("client saw: %v", err)
}

// TestFaultResetAfterCommit: the upload happens but the answer is lost; a
// blind retry is refused as a duplicate, and the list shows the
// certificate: clients must list before re-uploading.
func TestFaultResetAfterCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{Faults: cfsim.Faults{Sequence: []cfsim.FaultKind{cfsim.FaultResetAfter}}})
	body, p := leaf(t, newCA(t, "example.com"), "example.com")
	if err := rawUpload(t, e, body); err == nil {
		t.Fatal("a reset_after request got a response")
	}
	if e.sim.Uploads("example.com") != 1 {
		t.Fatal("a reset_after upload must be applied")
	}
	var list []certResult
	e.call("GET", e.zpath("/origin_tls_client_auth"), nil).want(t, 200, 0).result(t, &list)
	if len(list) != 1 || list[0].Certificate != string(p.CertPEM()) {
		t.Fatalf("list after reset_after: %+v", list)
	}
	e.call("POST", e.zpath("/origin_tls_client_auth"), body).want(t, 400, cfsim.CodeDuplicate)
}

func TestFaultLatencyAndPathFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{Faults: cfsim.Faults{Rate: 1, Kinds: []cfsim.FaultKind{cfsim.FaultLatency}, Latency: 1, Paths: []string{"/settings/"}}})
	e.call("GET", "/zones", nil).want(t, 200, 0)
	e.call("GET", e.zpath("/settings/ssl"), nil).want(t, 200, 0)
	log := e.sim.Requests()
	if log[0].Faulted || !log[1].Faulted || log[1].Fault != cfsim.FaultLatency || log[1].Status != 200 {
		t.Fatalf("request log %+v", log)
	}
}

func TestRequestLogJSONLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	sim := cfsim.New(cfsim.Options{Zones: []string{"example.com"}, Log: &buf})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	e := &env{t: t, sim: sim, srv: srv, token: sim.Token(), zone: sim.ZoneID("example.com")}
	body, _ := leaf(t, newCA(t, "example.com"), "example.com")
	e.call("POST", e.zpath("/origin_tls_client_auth"), body).want(t, 200, 0)
	srv.Close()
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	var lines []cfsim.Request
	for sc.Scan() {
		var r cfsim.Request
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, r)
	}
	if len(lines) != 1 || lines[0].Method != "POST" || lines[0].Status != 200 || lines[0].Auth != "token" ||
		!strings.Contains(lines[0].Body, `"private_key":"[redacted]"`) || strings.Contains(buf.String(), "PRIVATE KEY") ||
		strings.Contains(buf.String(), sim.Token()) {
		t.Fatalf("log %s", buf.String())
	}
}
