package evidence

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

// Lines as each writer produces them (brief's aop1 contract).
const (
	nginxSuccess  = `aop1 time=2026-11-22T21:39:07+00:00 sni=a.example.test host=a.example.test status=200 verify=SUCCESS fp=3f1e0c7a serial=1A2B subject="CN=client-A,O=Lab" issuer="CN=Lab AOP CA A,O=Lab"`
	nginxNone     = `aop1 time=2026-11-22T21:39:08+00:00 sni=a.example.test host=a.example.test status=200 verify=NONE fp=- serial=- subject="" issuer=""`
	nginxWrongCA  = `aop1 time=2026-11-22T21:39:09+00:00 sni=a.example.test host=a.example.test status=200 verify=FAILED:unable to verify the first certificate fp=aa serial=01 subject="CN=x" issuer="CN=y"`
	apacheExpired = `aop1 time=2026-11-22T21:39:10+0000 sni=b.example.test host=b.example.test status=200 verify=FAILED:certificate has expired fp=- serial=02 subject="CN=client-A-expired,O=Lab" issuer="CN=Lab AOP CA A,O=Lab"`
	apacheGen     = `aop1 time=2026-11-22T21:39:11+0000 sni=- host=b.example.test:443 status=200 verify=GENEROUS fp=- serial=03 subject="CN=a \"quoted\" name" issuer="CN=Other"`
	haproxyNone   = `aop1 time=2026-11-22T21:39:12+0000 sni=c.example.test host=c.example.test status=200 used=0 verify=0 fp=- serial=- subject="" issuer=""`
	haproxyOK     = `aop1 time=2026-11-22T21:39:13+0000 sni=c.example.test host=c.example.test status=200 used=1 verify=0 fp=ABCD serial=04 subject="/O=Lab/CN=client-A" issuer="/O=Lab/CN=Lab AOP CA A"`
	haproxyWrong  = `aop1 time=2026-11-22T21:39:14+0000 sni=c.example.test host=c.example.test status=200 used=1 verify=21 fp=EF serial=05 subject="/CN=x" issuer="/CN=y"`
	haproxyExp    = `aop1 time=2026-11-22T21:39:15+0000 sni=c.example.test host=c.example.test status=200 used=1 verify=10 fp=EF serial=06 subject="/CN=x" issuer="/CN=y"`
	builtinOK     = `aop1 time=2026-11-22T21:39:16.123456Z sni=D.Example.Test host=d.example.test status=200 verify=SUCCESS fp=00 serial=07 subject="CN=client-A" issuer="CN=Lab AOP CA A"`
)

func TestEvidenceParseLineFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line, host, verify, reason string
	}{
		{nginxSuccess, "a.example.test", VerifySuccess, ""},
		{nginxNone, "a.example.test", VerifyNone, ""},
		{nginxWrongCA, "a.example.test", VerifyFailed, "unable to verify the first certificate"},
		{apacheExpired, "b.example.test", VerifyFailed, "certificate has expired"},
		{apacheGen, "b.example.test", VerifyFailed, "GENEROUS (certificate not verified: unknown CA accepted by optional_no_ca)"},
		{haproxyNone, "c.example.test", VerifyNone, ""},
		{haproxyOK, "c.example.test", VerifySuccess, ""},
		{haproxyWrong, "c.example.test", VerifyFailed, "unable to verify the first certificate"},
		{haproxyExp, "c.example.test", VerifyFailed, "certificate has expired"},
		{builtinOK, "d.example.test", VerifySuccess, ""},
		{"Nov 22 21:39:07 web haproxy[42]: " + haproxyOK, "c.example.test", VerifySuccess, ""},
	} {
		e, err := ParseLine(tc.line)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if e.Hostname != tc.host || e.Verify != tc.verify || e.Reason != tc.reason {
			t.Errorf("%s:\n got host=%q verify=%q reason=%q\nwant host=%q verify=%q reason=%q", tc.line, e.Hostname, e.Verify, e.Reason, tc.host, tc.verify, tc.reason)
		}
		if e.Time.IsZero() || e.Status != 200 {
			t.Errorf("%s: time %v status %d", tc.line, e.Time, e.Status)
		}
	}
	e, _ := ParseLine(apacheGen)
	if e.Subject != `CN=a "quoted" name` {
		t.Errorf("escaped subject parsed as %q", e.Subject)
	}
	e, _ = ParseLine(`aop1 time=2026-11-22T21:39:07+00:00 sni=a host=a status=200 verify=SUCCESS subject="CN=\x22nginx\x22"`)
	if e.Subject != `CN="nginx"` {
		t.Errorf("nginx-escaped subject parsed as %q", e.Subject)
	}
}

func TestEvidenceParseLineRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		"",
		"127.0.0.1 - - [22/Nov/2026:21:39:07 +0000] \"GET / HTTP/1.1\" 200 2",
		"aop1",
		"aop1 time=yesterday verify=SUCCESS",
		"aop1 verify=SUCCESS sni=a",
		"aop1 time=2026-11-22T21:39:07+00:00 sni=a",
		"aop1 time=2026-11-22T21:39:07+00:00 verify=MAYBE",
		`aop1 time=2026-11-22T21:39:07+00:00 verify=SUCCESS subject="unterminated`,
		"aop1 time=2026-11-22T21:39:07+00:00 status=abc verify=SUCCESS",
		"xaop1 time=2026-11-22T21:39:07+00:00 verify=SUCCESS",
	} {
		if e, err := ParseLine(line); err == nil {
			t.Errorf("%q parsed as %+v, want an error", line, e)
		}
	}
}

func TestEvidenceReportCountsPerHostname(t *testing.T) {
	t.Parallel()
	log := strings.Join([]string{
		nginxSuccess, nginxSuccess, nginxNone, nginxWrongCA, "garbage line",
		apacheExpired, apacheGen, haproxyNone, haproxyOK, haproxyWrong, haproxyExp,
	}, "\n") + "\n"
	c := NewCollector(Options{})
	if err := c.Read(context.Background(), "access.log", strings.NewReader(log)); err != nil {
		t.Fatal(err)
	}
	r := c.Report()
	if r.Lines != 11 || r.Skipped != 1 || r.Counted != 10 {
		t.Fatalf("lines=%d skipped=%d counted=%d, want 11 1 10", r.Lines, r.Skipped, r.Counted)
	}
	if len(r.FirstSkips) != 1 || r.FirstSkips[0].Line != 5 {
		t.Fatalf("skips %+v, want line 5", r.FirstSkips)
	}
	a := r.Host("a.example.test")
	if a.Success != 2 || a.None != 1 || a.Failed != 1 || a.FailedReasons["unable to verify the first certificate"] != 1 {
		t.Fatalf("a: %+v", a)
	}
	if a.Issuers["CN=Lab AOP CA A,O=Lab"] != 2 {
		t.Fatalf("a: issuers %v, want CA A twice", a.Issuers)
	}
	b := r.Host("b.example.test")
	if b.Requests != 2 || b.Failed != 2 {
		t.Fatalf("b: %+v", b)
	}
	cst := r.Host("c.example.test")
	if cst.None != 1 || cst.Success != 1 || cst.Failed != 2 || cst.FailedReasons["certificate has expired"] != 1 {
		t.Fatalf("c: %+v", cst)
	}
	if got := cst.String(); got != "4 requests: 1 SUCCESS, 1 NONE, 2 FAILED" {
		t.Fatalf("c.String() = %q", got)
	}
}

func TestEvidenceReportWindowAndHostnames(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 11, 22, 21, 39, 8, 0, time.UTC)
	to := time.Date(2026, 11, 22, 21, 39, 13, 0, time.UTC)
	c := NewCollector(Options{From: from, To: to, Hostnames: []string{"A.example.test", "nothing.example.test"}})
	for i, l := range []string{nginxSuccess, nginxNone, nginxWrongCA, haproxyOK, haproxyExp} {
		c.Add("x", i+1, l)
	}
	r := c.Report()
	if r.OutsideWindow != 2 || r.OtherHosts != 1 || r.Counted != 2 {
		t.Fatalf("outside=%d other=%d counted=%d, want 2 1 2", r.OutsideWindow, r.OtherHosts, r.Counted)
	}
	if len(r.Hosts) != 2 || r.Hosts[1].Hostname != "nothing.example.test" || r.Hosts[1].Requests != 0 {
		t.Fatalf("hosts %+v: a named hostname with no requests must still be listed", r.Hosts)
	}
	if got := r.Host("nothing.example.test").String(); got != "no requests in the window" {
		t.Fatalf("got %q", got)
	}
}

func TestEvidenceReadFilesRotatedAndLongLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "aop.log")
	long := "aop1 time=2026-11-22T21:39:07+00:00 verify=SUCCESS subject=\"" + strings.Repeat("x", maxLine+10) + "\""
	if err := os.WriteFile(path+".1", []byte(nginxSuccess+"\n"+long+"\n"+nginxNone), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(nginxWrongCA+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := Files(path, true)
	if err != nil || len(files) != 2 || files[0] != path+".1" {
		t.Fatalf("Files = %v, %v; want the .1 generation first", files, err)
	}
	r, err := ReadFiles(context.Background(), files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := r.Host("a.example.test")
	if a.Success != 1 || a.None != 1 || a.Failed != 1 || r.Skipped != 1 {
		t.Fatalf("got %+v, skipped %d; want 1/1/1 and the long line skipped", a, r.Skipped)
	}
	// Defect: the long line was skipped but not counted as read ("0 lines
	// read … 1 skipped"). Lines read = counted + skipped + the rest.
	if r.Lines != 4 || r.Lines != r.Counted+r.Skipped+r.OutsideWindow+r.OtherHosts {
		t.Fatalf("%d lines read, %d counted, %d skipped: want 4 read, adding up", r.Lines, r.Counted, r.Skipped)
	}
	r, err = ReadFiles(context.Background(), []string{writeLog(t, long)}, Options{})
	if err != nil || r.Lines != 1 || r.Skipped != 1 || len(r.FirstSkips) != 1 || !strings.Contains(r.FirstSkips[0].Reason, "longer than") {
		t.Fatalf("a log of one over-long line: %+v, %v; want 1 line read, 1 skipped", r, err)
	}
	if files, _ := Files(filepath.Join(dir, "other.log"), true); len(files) != 1 {
		t.Fatalf("Files without a rotated copy = %v", files)
	}
	if _, err := ReadFiles(context.Background(), []string{filepath.Join(dir, "missing.log")}, Options{}); err == nil {
		t.Fatal("a missing log must be an error")
	}
}

func writeLog(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aop.log")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A log that never ends (a FIFO whose writer stays open, or an endless line
// such as /dev/zero), opened as readFile opens it, is read until the context
// is cancelled; then Read returns the context's error.
func TestEvidenceReadFilesInterrupted(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "aop.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString(nginxSuccess + "\n"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		ctx, cancel := context.WithCancel(context.Background())
		c := NewCollector(Options{})
		f, err := pki.OpenInput(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Read(ctx, path, f) }()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v, want context.Canceled", path, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the read went on for 30 s after the cancel", path)
		}
		f.Close()
	}
}

func FuzzEvidenceParseLine(f *testing.F) {
	for _, s := range []string{nginxSuccess, nginxNone, apacheGen, haproxyWrong, builtinOK, "aop1 time=x", `aop1 subject="\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseLine(line)
		if err != nil {
			return
		}
		switch e.Verify {
		case VerifyNone, VerifySuccess:
			if e.Reason != "" {
				t.Fatalf("%q: reason %q on %s", line, e.Reason, e.Verify)
			}
		case VerifyFailed:
			if e.Reason == "" {
				t.Fatalf("%q: failed without a reason", line)
			}
		default:
			t.Fatalf("%q: verify %q", line, e.Verify)
		}
		if e.Hostname == "" || e.Time.IsZero() {
			t.Fatalf("%q: hostname %q time %v", line, e.Hostname, e.Time)
		}
		c := NewCollector(Options{})
		c.Add("f", 1, line)
		if r := c.Report(); r.Counted != 1 {
			t.Fatalf("%q parsed but not counted: %+v", line, r)
		}
	})
}

// TestEvidenceRaysAndEnforceImpact: lines from before the client and ray
// fields still count; a requested CF-Ray is found with its verification
// result (the newest line wins); the enforce preview splits the requests
// enforcement would refuse into edge and direct traffic with top clients.
func TestEvidenceRaysAndEnforceImpact(t *testing.T) {
	lines := []string{
		`aop1 time=2026-11-20T10:00:00Z sni=a.example.test host=a.example.test status=200 verify="SUCCESS" fp=ab serial=01 subject="CN=c" issuer="CN=ca" client=198.51.100.7 ray="ray-1"`,
		`aop1 time=2026-11-20T10:00:01Z sni=a.example.test host=a.example.test status=200 verify="NONE" fp=- serial=- subject="-" issuer="-" client=198.51.100.8 ray="ray-2"`,
		`aop1 time=2026-11-20T10:00:02Z sni=a.example.test host=a.example.test status=200 verify="NONE" fp=- serial=- subject="-" issuer="-" client=203.0.113.9 ray="-"`,
		`aop1 time=2026-11-20T10:00:03Z sni=a.example.test host=a.example.test status=200 verify="FAILED:certificate has expired" fp=cd serial=02 subject="CN=x" issuer="CN=y" client=203.0.113.9 ray="-"`,
		`aop1 time=2026-11-20T10:00:04Z sni=a.example.test host=a.example.test status=200 verify="NONE" fp=- serial=- subject="-" issuer="-" client=192.0.2.1`,
		`aop1 time=2026-11-20T10:00:05Z sni=a.example.test host=a.example.test status=200 verify=NONE fp=- serial=- subject="-" issuer="-"`,
	}
	c := NewCollector(Options{Rays: []string{"ray-1", "ray-2", "ray-missing"}})
	for i, l := range lines {
		c.Add("log", i+1, l)
	}
	rep := c.Report()
	if rep.Counted != len(lines) {
		t.Fatalf("counted %d of %d lines; skips %+v", rep.Counted, len(lines), rep.FirstSkips)
	}
	if s, ok := rep.Ray("ray-1"); !ok || s.Verify != VerifySuccess || s.Issuer != "CN=ca" {
		t.Errorf("ray-1: %v %+v, want SUCCESS issued by CN=ca", ok, s)
	}
	if s, ok := rep.Ray("ray-2"); !ok || s.Verify != VerifyNone {
		t.Errorf("ray-2: %v %+v, want NONE", ok, s)
	}
	if _, ok := rep.Ray("ray-missing"); ok {
		t.Error("a ray that was never logged is reported found")
	}
	imp := rep.Impact
	if imp.Cloudflare != 1 || imp.Direct != 4 {
		t.Errorf("impact %d through Cloudflare, %d direct; want 1 and 4", imp.Cloudflare, imp.Direct)
	}
	if len(imp.TopDirect) == 0 || imp.TopDirect[0] != (ClientCount{Client: "203.0.113.9", Requests: 2}) {
		t.Errorf("top direct clients %+v, want 203.0.113.9 ×2 first", imp.TopDirect)
	}
	if len(imp.TopCloudflare) != 1 || imp.TopCloudflare[0].Client != "198.51.100.8" {
		t.Errorf("top Cloudflare clients %+v, want 198.51.100.8", imp.TopCloudflare)
	}
}
