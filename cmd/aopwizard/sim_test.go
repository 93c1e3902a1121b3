package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// startSim runs `aopwizard sim args…` and returns its JSON line and a stop
// function that cancels it and returns the exit code.
func startSim(t *testing.T, args ...string) (simInfo, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb pkitest.LockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- execute(ctx, append([]string{"sim"}, args...), pw, &errb)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no JSON line from sim (exit %d): %v; stderr: %s", <-code, err, errb.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var info simInfo
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		cancel()
		t.Fatalf("sim printed %q, not JSON: %v", line, err)
	}
	stopped := false
	stop := func() int {
		if stopped {
			return -1
		}
		stopped = true
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(30 * time.Second):
			t.Fatal("sim did not stop within 30s of cancel")
		}
		return -1
	}
	t.Cleanup(func() { stop() })
	return info, stop
}

func TestSimServesAPIAndStopsOnCancel(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "sim.jsonl")
	info, stop := startSim(t, "--listen", "127.0.0.1:0", "--zone", "example.com", "--zone", "example.org", "--token", "cfut_simtesttoken", "--log", logFile)
	if !strings.HasPrefix(info.APIURL, "http://127.0.0.1:") || !strings.HasSuffix(info.APIURL, "/client/v4/") {
		t.Fatalf("api_url %q is not a loopback /client/v4/ URL", info.APIURL)
	}
	if info.Token != "cfut_simtesttoken" || len(info.AccountID) != 32 || len(info.Zones) != 2 || len(info.Zones["example.com"]) != 32 {
		t.Fatalf("unexpected info %+v", info)
	}
	req, _ := http.NewRequest("GET", info.APIURL+"zones?name=example.org", nil)
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Success bool
		Result  []struct{ ID, Name string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || !env.Success || len(env.Result) != 1 || env.Result[0].ID != info.Zones["example.org"] {
		t.Fatalf("zone lookup through the sim failed: %v %+v", err, env)
	}
	// A cancelled context (SIGINT/SIGTERM) is the normal end of a server:
	// runSim returns nil, and root's exitCode maps nil to 0.
	if code := stop(); code != exitOK {
		t.Fatalf("exit code %d after cancel, want %d", code, exitOK)
	}
	st, err := os.Stat(logFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("request log: %v %v", st, err)
	}
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(string(b), `"path":"/zones"`) || strings.Contains(string(b), info.Token) {
		t.Fatalf("request log should record the call without the token: %s", b)
	}
}

func TestSimRefusesBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		err  string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, "not a loopback address"},
		{[]string{"--listen", "192.0.2.1:8080"}, "not a loopback address"},
		{[]string{"--edge-listen", "0.0.0.0:0", "--edge-origin", "127.0.0.1:1"}, "not a loopback address"},
		{[]string{"--edge-listen", "127.0.0.1:0"}, "go together"},
		{[]string{"--ssl-mode", "strictest"}, "not a Cloudflare ssl value"},
		{[]string{"--faults", "1.5"}, "not a fraction from 0 to 1"},
		{[]string{"--faults", "-0.1"}, "not a fraction from 0 to 1"},
		{[]string{"--faults", "NaN"}, "--faults NaN: is not a fraction from 0 to 1"},
		{[]string{"--faults", "+Inf"}, "not a fraction from 0 to 1"},
		{[]string{"--fault-kinds", "teapot"}, "not a fault the simulator knows"},
		{[]string{"--deploy-after", "-1"}, "negative"},
		{[]string{"--tls-client-auth", "yes"}, "not on or off"},
		{[]string{"--zone", "localhost"}, "single label"},
		{[]string{"--zone", "example..com"}, "empty label"},
		// pki.ValidateDomain is the one name rule: an IDN is given as its
		// A-label, like every other command wants it.
		{[]string{"--zone", "bücher.example"}, "non-ASCII"},
		{[]string{"--listen", "127.0.0.1:99999"}, `port "99999"`},
		{[]string{"--listen", "127.0.0.1:http"}, `port "http"`},
		{[]string{"--listen", "::1:8080"}, "not HOST:PORT"},
		{[]string{"--edge-listen", "127.0.0.1:0", "--edge-origin", "127.0.0.1:70000"}, `port "70000"`},
		{[]string{"--edge-listen", "127.0.0.1:0", "--edge-origin", "127.0.0.1:0"}, `port "0"`},
		{[]string{"--edge-listen", "127.0.0.1:0", "--edge-origin", "origin"}, "not HOST:PORT"},
		{[]string{"--origin-ca", "ca.pem"}, "pass it with --edge-listen"},
		{[]string{"--token", "cfut_a.b"}, "characters a bearer token cannot hold"},
		{[]string{"--token", "two words"}, "characters a bearer token cannot hold"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			// An accepted option would serve until cancelled: the deadline
			// turns that into a failure instead of a hang.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if got := execute(ctx, append([]string{"sim"}, c.args...), &out, &errb); got != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %s", got, exitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), c.err) {
				t.Fatalf("stderr %q does not say %q", errb.String(), c.err)
			}
			if out.Len() != 0 {
				t.Fatalf("stdout should be empty on bad usage, got %q", out.String())
			}
		})
	}
}

func TestSimEdgeLine(t *testing.T) {
	info, _ := startSim(t, "--edge-listen", "127.0.0.1:0", "--edge-origin", "127.0.0.1:9")
	if !strings.HasPrefix(info.Edge, "127.0.0.1:") || !strings.Contains(info.EdgeCAPEM, "BEGIN CERTIFICATE") {
		t.Fatalf("edge fields missing: %+v", info)
	}
}

// --faults with a seed injects the chosen faults, and the request log
// marks them.
func TestSimInjectsFaults(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "sim.jsonl")
	info, stop := startSim(t, "--faults", "1", "--fault-kinds", "429", "--seed", "7", "--log", logFile)
	req, _ := http.NewRequest("GET", info.APIURL+"zones", nil)
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("--faults 1 --fault-kinds 429 answered %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit code %d", code)
	}
	b, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(b), `"faulted":true`) || !strings.Contains(string(b), `"fault":"429"`) {
		t.Fatalf("request log should mark the fault: %s %v", b, err)
	}
}

// Defect: `sim --log` wrote a private key sent URL-encoded (in the query
// or a form body) verbatim. Every form is redacted.
func TestSimLogRedactsURLEncodedKeys(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "sim.jsonl")
	info, stop := startSim(t, "--log", logFile)
	const key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n"
	zone := info.APIURL + "zones/" + info.Zones["example.com"] + "/origin_tls_client_auth"
	send := func(method, u, ctype, body string) {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+info.Token)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	send("GET", zone+"?private_key="+url.QueryEscape(key), "", "")
	send("POST", zone, "application/x-www-form-urlencoded", url.Values{"certificate": {"x"}, "private_key": {key}}.Encode())
	send("POST", zone, "application/json", `{"private_key":"`+strings.ReplaceAll(key[:60], "\n", `\n`))
	if code := stop(); code != exitOK {
		t.Fatalf("exit code %d", code)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Fatalf("%d log lines, want 3: %s", n, b)
	}
	for _, leak := range []string{"SECRETSECRET", "MIGHAgEAMBMGByqGSM49", "PRIVATE", info.Token} {
		if strings.Contains(string(b), leak) {
			t.Errorf("the request log holds %q: %s", leak, b)
		}
	}
}
