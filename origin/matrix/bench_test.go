package matrix

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// BenchmarkProbeVsCurl times probe.Run against what an operator does by
// hand with curl, on the same origins with the same certificates: one
// curl per origin and case, one after the other. Targets (issue 7): one
// nginx origin x 2 cases in at most 1.5x curl's time, 100 origins x 4
// cases in at most 0.3x. The 1, 10 and 100 origins are builtin origins
// (the Go server aopwizard ships), each on its own port, in the enforce
// phase on TLS 1.3, where a rejection is a post-handshake alert.
//
//	AOPWIZARD_REQUIRE_SERVERS=1 go test ./origin/matrix/ -run '^$' -bench ProbeVsCurl -benchtime 5x
func BenchmarkProbeVsCurl(b *testing.B) {
	if _, err := exec.LookPath("curl"); err != nil {
		b.Skip("curl not installed")
	}
	lab := pkitest.New(b)
	const host = "a.example.test"
	b.Run("1-nginx-origin-x-2-cases", func(b *testing.B) {
		o := startOrigin(b, lab, render.Nginx, render.Enforce, render.Zone)
		benchProbeVsCurl(b, lab, []string{o.addr}, labCases(lab)[:2], host)
	})
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("%d-builtin-origins-x-4-cases", n), func(b *testing.B) {
			addrs := make([]string, n)
			for i := range addrs {
				addrs[i] = startOrigin(b, lab, render.Builtin, render.Enforce, render.Zone).addr
			}
			benchProbeVsCurl(b, lab, addrs, labCases(lab), host)
		})
	}
}

// curlCert names the lab files curl presents for each standard case.
var curlCert = map[probe.Kind]string{probe.KindRight: "clientA", probe.KindWrongCA: "clientB", probe.KindExpired: "clientAexp"}

func benchProbeVsCurl(b *testing.B, lab *pkitest.Lab, addrs []string, cases []probe.Case, host string) {
	targets := make([]probe.Target, len(addrs))
	for i, a := range addrs {
		targets[i] = probe.Target{Addr: a, SNI: host, RootCAs: serverCAs(lab)}
	}
	var probeTime, curlTime time.Duration
	for b.Loop() {
		start := time.Now()
		results, err := probe.Run(context.Background(), targets, cases, probe.RunOptions{Concurrency: 8})
		if err != nil {
			b.Fatal(err)
		}
		probeTime += time.Since(start)
		for _, r := range results {
			if r.Class == probe.Unreachable || r.Class == probe.Inconclusive {
				b.Fatalf("%s %s: %s (%s)", r.Addr, r.Case, r, r.Detail)
			}
		}

		start = time.Now()
		for _, a := range addrs {
			for _, c := range cases {
				runCurl(b, lab, a, host, curlCert[c.Kind])
			}
		}
		curlTime += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(probeTime.Seconds()*1000/n, "probe-ms/op")
	b.ReportMetric(curlTime.Seconds()*1000/n, "curl-ms/op")
	b.ReportMetric(probeTime.Seconds()/curlTime.Seconds(), "probe/curl")
}

// runCurl makes the request an operator would: SNI and Host = host on
// the origin's address, the server certificate checked, the case's
// client certificate if any. Rejections are curl failures; only the
// time counts.
func runCurl(b *testing.B, lab *pkitest.Lab, addr, host, cert string) {
	_, port, _ := strings.Cut(addr, ":")
	url := fmt.Sprintf("https://%s:%s/", host, port)
	args := []string{"-s", "-o", "/dev/null", "--max-time", "10", "--tlsv1.3",
		"--cacert", lab.Path(pkitest.ServerCAFile), "--resolve", host + ":" + port + ":127.0.0.1", url}
	if cert != "" {
		args = append(args, "--cert", lab.Path(cert+".pem"), "--key", lab.Path(cert+".key"))
	}
	out, err := exec.Command("curl", args...).CombinedOutput()
	// Exit 0 (an answer), 35/56/16/55 (TLS rejections, resets) are all
	// answers; 7 (refused) and 28 (timeout) mean the origin is not there.
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() == 7 || ee.ExitCode() == 28) {
		b.Fatalf("curl %s: %v %s", strconv.Quote(url), err, out)
	}
}
