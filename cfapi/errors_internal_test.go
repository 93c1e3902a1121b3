package cfapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// cfsim answers 9109 only as "Invalid access token" (a bad token); the
// other 9109, "Unauthorized to access requested resource", is a scope
// failure and must read like 10000, naming the permission group.
func TestCode9109IsAPermissionError(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Token: "cfut_x", BaseURL: "http://127.0.0.1:1/client/v4/"})
	if err != nil {
		t.Fatal(err)
	}
	op := &opSpec{name: "change zone setting ssl to strict", method: http.MethodPatch, perm: PermZoneSettingsWrite}
	e := c.apiError(op, http.StatusForbidden, []cfMessage{{Code: 9109, Message: "Unauthorized to access requested resource"}})
	if e.Kind != KindPermission || !strings.Contains(e.Error(), "Zone Settings Write") {
		t.Fatalf("9109 mapped to %s: %v", e.Kind, e)
	}
}

func TestRetryAfterForms(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second, true},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second, true},
		{http.Header{"X-Ratelimit-Reset": {now.Add(5 * time.Minute).Format(http.TimeFormat)}}, 5 * time.Minute, true},
		{http.Header{"Retry-After": {"soon"}}, 0, false},
		{http.Header{}, 0, false},
	} {
		got, ok := retryAfter(tc.h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%v) = %v, %t; want %v, %t", tc.h, got, ok, tc.want, tc.ok)
		}
	}
}

// Library remedies speak in product terms: the CLI and the TUI map them to
// their own inputs, so none names a flag or a command.
func TestRemediesNameNoFlagsOrCommands(t *testing.T) {
	t.Parallel()
	for kind, x := range explanations {
		for _, text := range x {
			if strings.Contains(text, " --") || strings.Contains(text, "command") {
				t.Errorf("%s: %q speaks of the CLI", kind, text)
			}
		}
	}
	for _, err := range []error{func() error { _, err := parseCertPEM([]byte("x")); return err }(),
		func() error { _, err := parseCertPEM([]byte("-----BEGIN PRIVATE KEY-----")); return err }()} {
		if strings.Contains(err.Error(), "pass ") || strings.Contains(err.Error(), "--") {
			t.Errorf("%q speaks of the CLI", err)
		}
	}
}
