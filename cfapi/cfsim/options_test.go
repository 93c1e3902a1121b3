package cfsim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// The request log never holds a private key or a token, however the
// client sends it: JSON, a query string, a form body, a cut-off or
// percent-encoded body.
func TestRequestLogRedactsSecretsInEveryForm(t *testing.T) {
	t.Parallel()
	body, _ := leaf(t, newCA(t, "example.com"), "example.com")
	keyPEM := body["private_key"]
	// A run of the key's base64 without characters an encoding would
	// change: if it shows up in the log, some form of the key leaked.
	marker := regexp.MustCompile(`[A-Za-z0-9]{16,}`).FindString(strings.SplitN(keyPEM, "\n", 3)[1])
	if marker == "" {
		t.Fatal("no marker in the key")
	}
	const token = "cfut_simtesttoken0123456789"
	var buf lockedLog
	sim := cfsim.New(cfsim.Options{Zones: []string{"example.com"}, Token: token, Log: &buf})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	zpath := srv.URL + "/client/v4/zones/" + sim.ZoneID("example.com") + "/origin_tls_client_auth"
	form := url.Values{"certificate": {body["certificate"]}, "private_key": {keyPEM}}.Encode()
	cut := `{"certificate":"x","private_key":"` + strings.ReplaceAll(keyPEM[:len(keyPEM)/2], "\n", `\n`)
	cases := []struct {
		name, method, url, ctype, body string
	}{
		{"query string", "GET", zpath + "?private_key=" + url.QueryEscape(keyPEM), "", ""},
		{"query string, path-escaped", "GET", zpath + "?k=" + url.PathEscape(keyPEM), "", ""},
		{"form body", "POST", zpath, "application/x-www-form-urlencoded", form},
		{"form body under another name", "POST", zpath, "application/x-www-form-urlencoded", "pem=" + url.QueryEscape(keyPEM)},
		{"double-encoded form body", "POST", zpath, "application/x-www-form-urlencoded", "x=" + url.QueryEscape(url.QueryEscape(keyPEM))},
		{"cut-off JSON", "POST", zpath, "application/json", cut},
		{"bare PEM", "POST", zpath, "text/plain", keyPEM},
		{"JSON under another name", "POST", zpath, "application/json", `{"pem":` + jsonString(keyPEM) + `}`},
		{"token in the query", "GET", zpath + "?api_token=" + token + "&page=1", "", ""},
		{"token in a JSON body", "POST", zpath, "application/json", `{"token":"abc123def456"}`},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
	}
	srv.Close()
	logged := buf.String()
	sc := bufio.NewScanner(strings.NewReader(logged))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		name := cases[n].name
		n++
		for _, leak := range []string{marker, "PRIVATE KEY", "PRIVATE+KEY", "PRIVATE%20KEY", token, "abc123def456"} {
			if strings.Contains(line, leak) {
				t.Errorf("%s: the log holds %q: %s", name, leak, line)
			}
		}
		if !strings.Contains(line, "[redacted]") {
			t.Errorf("%s: nothing marked redacted: %s", name, line)
		}
	}
	if n != len(cases) {
		t.Fatalf("%d log lines for %d requests", n, len(cases))
	}
	// What is not secret stays readable.
	if rs := sim.Requests(); !strings.Contains(rs[8].Query, "page=1") || !strings.Contains(rs[2].Body, "certificate=") {
		t.Errorf("redaction removed more than secrets: %q, %q", rs[8].Query, rs[2].Body)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// lockedLog is the simulator's log writer in this test; the simulator
// writes under its own lock, so a plain buffer read after Close suffices.
type lockedLog struct{ bytes.Buffer }

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		opts   cfsim.ServeOptions
		option string
		say    string
	}{
		{"fault rate NaN", cfsim.ServeOptions{Options: cfsim.Options{Faults: cfsim.Faults{Rate: math.NaN()}}}, "Faults.Rate", "fraction"},
		{"fault rate +Inf", cfsim.ServeOptions{Options: cfsim.Options{Faults: cfsim.Faults{Rate: math.Inf(1)}}}, "Faults.Rate", "fraction"},
		{"fault rate above 1", cfsim.ServeOptions{Options: cfsim.Options{Faults: cfsim.Faults{Rate: 1.01}}}, "Faults.Rate", "fraction"},
		{"unknown fault", cfsim.ServeOptions{Options: cfsim.Options{Faults: cfsim.Faults{Kinds: []cfsim.FaultKind{"teapot"}}}}, "Faults.Kinds", "429"},
		{"IDN zone", cfsim.ServeOptions{Options: cfsim.Options{Zones: []string{"bücher.example"}}}, "Zones", "non-ASCII"},
		{"single-label zone", cfsim.ServeOptions{Options: cfsim.Options{Zones: []string{"localhost"}}}, "Zones", "single label"},
		{"SSL mode", cfsim.ServeOptions{Options: cfsim.Options{SSLMode: "strictest"}}, "SSLMode", "origin_pull"},
		{"tls_client_auth", cfsim.ServeOptions{Options: cfsim.Options{TLSClientAuth: "yes"}}, "TLSClientAuth", "on or off"},
		{"token", cfsim.ServeOptions{Options: cfsim.Options{Token: "a b"}}, "Token", "letters, digits"},
		{"negative deploy", cfsim.ServeOptions{Options: cfsim.Options{DeployAfter: -1}}, "DeployAfter", "negative"},
		{"listen port", cfsim.ServeOptions{Listen: "127.0.0.1:99999"}, "Listen", "65535"},
		{"listen not loopback", cfsim.ServeOptions{Listen: "0.0.0.0:0"}, "Listen", "loopback"},
		{"edge listen", cfsim.ServeOptions{Edge: &cfsim.EdgeOptions{Listen: "192.0.2.1:443", Origin: "127.0.0.1:1"}}, "Edge.Listen", "loopback"},
		{"edge origin port", cfsim.ServeOptions{Edge: &cfsim.EdgeOptions{Origin: "127.0.0.1:0"}}, "Edge.Origin", "1 to 65535"},
		{"edge origin missing", cfsim.ServeOptions{Edge: &cfsim.EdgeOptions{}}, "Edge.Origin", "missing"},
	}
	for _, c := range cases {
		err := c.opts.Validate()
		var oe *cfsim.OptionError
		if !errors.As(err, &oe) || oe.Option != c.option || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: Validate() = %v, want an OptionError for %s saying %q", c.name, err, c.option, c.say)
			continue
		}
		if strings.Contains(err.Error(), "--") && !strings.Contains(err.Error(), "xn--") {
			t.Errorf("%s: %q names a flag; the library speaks of options", c.name, err)
		}
		// Start refuses the same options before listening.
		if srv, err := cfsim.Start(context.Background(), c.opts); err == nil || !errors.As(err, &oe) {
			if srv != nil {
				_ = srv.Close()
			}
			t.Errorf("%s: Start = %v, want the OptionError", c.name, err)
		}
	}
	if err := (cfsim.ServeOptions{Options: cfsim.Options{Zones: []string{"xn--bcher-kva.example"}, Faults: cfsim.Faults{Rate: 1}}}).Validate(); err != nil {
		t.Errorf("an A-label zone and rate 1 are valid: %v", err)
	}
}

// Start serves the API and the edge as `aopwizard sim` does, and Wait ends
// cleanly when the context does.
func TestStartServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := cfsim.Start(ctx, cfsim.ServeOptions{Options: cfsim.Options{Zones: []string{"Example.COM"}},
		Edge: &cfsim.EdgeOptions{Origin: "127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Zones) != 1 || srv.Zones[0] != "example.com" || srv.Sim.ZoneID("example.com") == "" || srv.Edge == nil {
		t.Fatalf("server %+v", srv)
	}
	req, _ := http.NewRequest("GET", srv.APIURL+"zones?name=example.com", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Sim.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET zones: %v %v", resp, err)
	}
	resp.Body.Close()
	done := make(chan error, 1)
	go func() { done <- srv.Wait(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return within 30s of cancel")
	}
}
