package pki_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/pki"
)

func TestPKIValidateNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 63)
	tooLong := strings.Join([]string{long, long, long, long}, ".") + ".com" // 260 characters
	cases := []struct {
		name string
		ok   bool
		says string // for a bad name: a phrase the error must contain
	}{
		{"example.com", true, ""},
		{"App-1.Example.COM", true, ""},
		{"xn--bcher-kva.example", true, ""},
		{long + ".com", true, ""},
		{"", false, "is empty"},
		{"https://app.example.com", false, "pass the bare hostname, without https://"},
		{"http://example.com/", false, "without http://"},
		{"app example.com", false, "contains spaces"},
		{" example.com", false, "contains spaces"},
		{"app..example.com", false, "empty label"},
		{".example.com", false, "empty label"},
		{"example.com.", false, "trailing dot"},
		{tooLong, false, "at most 253"},
		{strings.Repeat("b", 64) + ".com", false, "label of 64 characters"},
		{"my_app.example.com", false, "underscore"},
		{"*.example.com", false, "wildcard"},
		{"a.*.example.com", false, "wildcard"},
		{"-app.example.com", false, "hyphen"},
		{"localhost", false, "single label"},
		{"192.0.2.1", false, "IP address"},
		{"example.com:443", false, "port"},
		{"example.com/path", false, "path"},
		{"bücher.example", false, "punycode"},
		{"example.123", false, "numeric"},
	}
	for _, c := range cases {
		for _, validate := range []func(string) error{pki.ValidateHostname, pki.ValidateDomain} {
			err := validate(c.name)
			if c.ok {
				if err != nil {
					t.Errorf("%q: %v", c.name, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("%q accepted", c.name)
				continue
			}
			if !errors.Is(err, pki.ErrInvalidName) {
				t.Errorf("%q: error %v does not wrap ErrInvalidName", c.name, err)
			}
			msg := strings.ReplaceAll(err.Error(), "domain, without", "hostname, without")
			if !strings.Contains(msg, c.says) {
				t.Errorf("%q: error %q does not say %q", c.name, err, c.says)
			}
			// The wizard shows these too: no command-line wording.
			if strings.Contains(msg, "flag") || strings.Contains(strings.ReplaceAll(msg, "xn--", ""), " --") {
				t.Errorf("%q: error %q names a command-line flag", c.name, err)
			}
		}
	}
}

func TestPKIInDomain(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		host, domain string
		want         bool
	}{
		{"example.com", "example.com", true},
		{"App.Example.com", "example.com", true},
		{"badexample.com", "example.com", false},
		{"example.org", "example.com", false},
	} {
		if got := pki.InDomain(c.host, c.domain); got != c.want {
			t.Errorf("InDomain(%s, %s) = %v", c.host, c.domain, got)
		}
	}
}
