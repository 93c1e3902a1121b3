package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

func TestParseOrigin(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.10":        "203.0.113.10:443",
		"203.0.113.10:8443":   "203.0.113.10:8443",
		"2001:db8::1":         "[2001:db8::1]:443",
		"::1":                 "[::1]:443",
		"[::1]":               "[::1]:443",
		"[::1]:443":           "[::1]:443",
		"[2001:db8::1]:8443":  "[2001:db8::1]:8443",
		"origin.example":      "origin.example:443",
		"origin.example:8443": "origin.example:8443",
		"localhost:1":         "localhost:1",
		"127.0.0.1:65535":     "127.0.0.1:65535",
	} {
		if got, err := ParseOrigin(in); err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseOriginRejects(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                 "is empty",
		"127.0.0.1:0":      "has port 0, outside 1-65535",
		"127.0.0.1:70000":  "has port 70000, outside 1-65535",
		"127.0.0.1:":       "has an empty port",
		"127.0.0.1:https":  `has port "https", which is not a number`,
		"127.0.0.1:+443":   `which is not a number`,
		"::1:443":          "put the address in brackets: [::1]:443 for that port, or [::1:443] for port 443",
		"2001:db8::1:8443": "[2001:db8::1]:8443",
		"[127.0.0.1]:443":  "brackets around something other than an IPv6 address",
		"[origin.example]": "not an IPv6 address",
		"https://a.test":   "is not an address",
		"a b:443":          "is not an address",
		"a\r\n:443":        "is not an address",
		":443":             "neither an IP address nor a DNS name",
		"a_b.test:443":     "neither an IP address nor a DNS name",
		"1:2:3":            "is not an address",
	} {
		_, err := ParseOrigin(in)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Input != InputOrigin || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseOrigin(%q): got %v, want an origin InputError saying %q", in, err, want)
		}
	}
}

func TestTargetValidate(t *testing.T) {
	t.Parallel()
	ok := Target{Addr: "127.0.0.1:443"}
	with := func(f func(*Target)) Target { t := ok; f(&t); return t }
	for _, tc := range []struct {
		t     Target
		input Input // "" = valid
	}{
		{ok, ""},
		{with(func(t *Target) {
			t.Addr = "[::1]:8443"
			t.SNI = "a.example.test"
			t.Host = "a.example.test:8443"
			t.Path = "/healthz?x=1"
		}), ""},
		{with(func(t *Target) { t.Host = "[::1]:443" }), ""},
		{with(func(t *Target) { t.Host = "203.0.113.10" }), ""},
		{with(func(t *Target) { t.MaxVersion = tls.VersionTLS12 }), ""},
		{with(func(t *Target) { t.Addr = "127.0.0.1" }), InputOrigin},
		{with(func(t *Target) { t.Addr = "127.0.0.1:0" }), InputOrigin},
		{with(func(t *Target) { t.Addr = "[::1:443]:70000" }), InputOrigin},
		{with(func(t *Target) { t.SNI = "a b" }), InputSNI},
		{with(func(t *Target) { t.SNI = "a.example.test\r\n" }), InputSNI},
		{with(func(t *Target) { t.SNI = "203.0.113.10" }), InputSNI},
		{with(func(t *Target) { t.Host = "a\r\nX: 1" }), InputHost},
		{with(func(t *Target) { t.Host = "a.example.test/x" }), InputHost},
		{with(func(t *Target) { t.Host = "a.example.test:0" }), InputHost},
		{with(func(t *Target) { t.Host = "::1" }), InputHost},
		{with(func(t *Target) { t.Path = "/a\r\nX: 1" }), InputPath},
		{with(func(t *Target) { t.Path = "/a b" }), InputPath},
		{with(func(t *Target) { t.Path = "/a#frag" }), InputPath},
		{with(func(t *Target) { t.Path = "/é" }), InputPath},
		{with(func(t *Target) { t.Path = "healthz" }), InputPath},
		{with(func(t *Target) { t.Timeout = -1 }), InputTimeout},
		{with(func(t *Target) { t.MaxVersion = tls.VersionTLS11 }), InputTLSVersion},
	} {
		err := tc.t.Validate()
		var ie *InputError
		switch {
		case tc.input == "" && err != nil:
			t.Errorf("%+v: %v, want valid", tc.t, err)
		case tc.input != "" && (!errors.As(err, &ie) || ie.Input != tc.input):
			t.Errorf("%+v: got %v, want an InputError for the %s", tc.t, err, tc.input)
		case err != nil && (strings.Contains(err.Error(), "--") || ie.Remedy == ""):
			t.Errorf("%+v: %q names a flag or has no remedy", tc.t, err)
		}
	}
}

// A target the origin would receive mangled is never sent: Run refuses
// it before connecting, and Probe makes it an inconclusive result.
func TestProbeSendsNothingForAnInvalidTarget(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	tg := Target{Addr: ln.Addr().String(), Host: "a\r\nX: 1"}
	if _, err := Run(context.Background(), []Target{{Addr: ln.Addr().String()}, tg}, []Case{NoCert()}, RunOptions{}); err == nil {
		t.Fatal("Run accepted a Host header with CR/LF")
	}
	if r := Probe(context.Background(), tg, NoCert()); r.Class != Inconclusive || !strings.Contains(r.Detail, "Host header") {
		t.Fatalf("Probe: got %s (%s), want inconclusive naming the Host header", r, r.Detail)
	}
	// Close the listener and wait for its goroutine: a connection made
	// before would have been counted by then.
	ln.Close()
	<-done
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections made for invalid targets", n)
	}
}
