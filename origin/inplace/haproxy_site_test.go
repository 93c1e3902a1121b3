package inplace_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// haproxyShop writes a realistic HAProxy site: an HTTP frontend with IPv4
// and IPv6 TLS binds, a redirect, a denied path, and a backend (the Go
// application) for everything else.
func haproxyShop(t *testing.T, lab *pkitest.Lab, port int, upstream string) (dir, conf string, addrs []string) {
	dir = servertest.Dir(t)
	addrs = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	binds := fmt.Sprintf("    bind 127.0.0.1:%d ssl crt %s alpn http/1.1\n", port, lab.Path(pkitest.ServerBundle))
	if loopback6() {
		addrs = append(addrs, fmt.Sprintf("[::1]:%d", port))
		binds += fmt.Sprintf("    bind [::1]:%d ssl crt %s # IPv6\n", port, lab.Path(pkitest.ServerBundle))
	}
	writeFiles(t, dir, map[string]string{
		"haproxy.cfg": `global
    log stdout format raw local0
    ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
    mode http
    log global
    timeout connect 5s
    timeout client 30s
    timeout server 30s

# The shop: the operator's own frontend.
frontend fe_shop
` + binds + `    http-request redirect location /index.html code 302 if { path /go }
    http-request redirect location /new/page code 301 if { path /old/page }
    http-request deny deny_status 403 if { path_beg /private/ }
    default_backend be_app

backend be_app
    server app ` + upstream + `
`,
	})
	return dir, filepath.Join(dir, "haproxy.cfg"), addrs
}

func TestHAProxyExistingSite(t *testing.T) {
	servertest.RequireServer(t, render.HAProxy)
	lab := pkitest.New(t)
	dir, conf, addrs := haproxyShop(t, lab, servertest.FreePort(t), backend(t))
	evidence := filepath.Join(dir, "stdout.log")
	run := servertest.Start(t, render.HAProxy, conf, servertest.Stdout(evidence))
	ctx := context.Background()

	before, err := record(client(lab, shopHost, nil), addrs, shopHost)
	if err != nil {
		t.Fatalf("%v\n%s", err, run.ErrorTail())
	}
	for k, want := range map[string]int{"GET /private/secret.txt": 403, "GET /go": 302, "GET /old/page": 301, "POST /api/items": 200} {
		if got := before[addrs[0]+" "+k]; got.Status != want {
			t.Fatalf("baseline %s = %s, want %d", k, got, want)
		}
	}
	orig := snapshot(t, conf)
	in := inplace.Input{ID: "example.test", Phase: render.Soft, CAFile: lab.Path(pkitest.CAAFile), AccessLog: evidence}
	o := apply.Options{Driver: run.Driver, Runner: server.NewExecRunner(nil), CheckpointDir: filepath.Join(dir, "checkpoints"), ID: "example.test",
		Targets: []apply.Target{{Addr: addrs[0], SNI: shopHost, CAs: [][]byte{lab.CAA.Cert.RawSubject}, Phase: render.Soft}}}
	if _, err := apply.Apply(ctx, o, changes(planFor(t, run.Driver, in))); err != nil {
		t.Fatalf("apply soft: %v\n%s", err, run.ErrorTail())
	}
	for name, cert := range map[string]*pki.Pair{"none": nil, "right": lab.ClientA, "wrong-ca": lab.ClientB, "expired": lab.ClientAExpired} {
		expectSame(t, lab, addrs, cert, before, "haproxy soft phase, "+name+" certificate, same answers")
	}
	servertest.Eventually(t, "the evidence lines show every result", func() error {
		log, _ := os.ReadFile(evidence)
		for _, want := range []string{"used=0 verify=0", "used=1 verify=0", "used=1 verify=21", "used=1 verify=10"} {
			if !strings.Contains(string(log), want) {
				return fmt.Errorf("evidence lacks %s:\n%s", want, log)
			}
		}
		return nil
	})

	expectEvidence(t, evidence, shopHost, "unable to verify the first certificate", "certificate has expired")
	in.Phase, o.Targets[0].Phase = render.Enforce, render.Enforce
	if _, err := apply.Apply(ctx, o, changes(planFor(t, run.Driver, in))); err != nil {
		t.Fatalf("apply enforce: %v\n%s", err, run.ErrorTail())
	}
	expectSame(t, lab, addrs, lab.ClientA, before, "haproxy enforce, right certificate, same answers")
	for name, cert := range map[string]*pki.Pair{"none": nil, "wrong-ca": lab.ClientB, "expired": lab.ClientAExpired} {
		expectRefused(t, lab, addrs, cert, "haproxy enforce refuses "+name, tlsRefused)
	}
	rollbackAll(t, o, 2, orig)
	expectSame(t, lab, addrs, nil, before, "after rollback, same answers")
}

// TestHAProxyExistingSiteHostnameMode: per-hostname CAs through a
// crt-list, on the operator's frontend. Each hostname accepts only its own
// CA when enforcing, a hostname outside the rollout keeps being served
// without a certificate, and a Host that disagrees with the SNI is refused
// with 421.
func TestHAProxyExistingSiteHostnameMode(t *testing.T) {
	servertest.RequireServer(t, render.HAProxy)
	lab := pkitest.New(t)
	dir, conf, addrs := haproxyShop(t, lab, servertest.FreePort(t), backend(t))
	run := servertest.Start(t, render.HAProxy, conf, servertest.Stdout(filepath.Join(dir, "stdout.log")))
	ctx := context.Background()
	const hostB, other = "b.example.test", "origin.example.test"
	orig := snapshot(t, conf)
	list := inplace.CrtListPath(conf, "example.test")

	in := inplace.Input{ID: "example.test", Phase: render.Soft, Mode: render.Hostname, AccessLog: filepath.Join(dir, "stdout.log"),
		HostCAFiles: map[string]string{shopHost: lab.Path(pkitest.CAAFile), hostB: lab.Path(pkitest.CABFile)}}
	plan := func() *inplace.Plan {
		p, hosts, err := inplace.PlanFor(ctx, server.NewExecRunner(nil), run.Driver, []string{shopHost, hostB}, in)
		if err != nil {
			t.Fatalf("plan: %v (found %+v)", err, hosts)
		}
		return p
	}
	o := apply.Options{Driver: run.Driver, Runner: server.NewExecRunner(nil), CheckpointDir: filepath.Join(dir, "checkpoints"), ID: "example.test",
		Targets: []apply.Target{
			{Addr: addrs[0], SNI: shopHost, CAs: [][]byte{lab.CAA.Cert.RawSubject}, Phase: render.Soft},
			{Addr: addrs[0], SNI: hostB, CAs: [][]byte{lab.CAB.Cert.RawSubject}, Phase: render.Soft},
		}}
	if _, err := apply.Apply(ctx, o, changes(plan())); err != nil {
		t.Fatalf("apply soft: %v\n%s", err, run.ErrorTail())
	}
	get := func(sni, host string, cert *pki.Pair) (answer, error) {
		return ask(client(lab, sni, cert), addrs[0], host, siteRequests[0])
	}
	// want polls until a request answers status (0: refused); reloads
	// land asynchronously.
	want := func(what, sni, host string, cert *pki.Pair, status int) {
		t.Helper()
		servertest.Eventually(t, what, func() error {
			a, err := get(sni, host, cert)
			if (status == 0 && err == nil) || (status != 0 && (err != nil || a.Status != status)) {
				return fmt.Errorf("got %v %v, want %d", a, err, status)
			}
			return nil
		})
	}
	want("soft: SNI/Host mismatch refused", shopHost, hostB, lab.ClientA, 421)
	for _, cert := range []*pki.Pair{nil, lab.ClientA, lab.ClientB, lab.ClientAExpired} {
		for _, h := range []string{shopHost, hostB, other} {
			want("soft, "+h, h, h, cert, 200)
		}
	}

	in.Phase = render.Enforce
	for i := range o.Targets {
		o.Targets[i].Phase = render.Enforce
	}
	if _, err := apply.Apply(ctx, o, changes(plan())); err != nil {
		t.Fatalf("apply enforce: %v\n%s", err, run.ErrorTail())
	}
	for _, c := range []struct {
		host   string
		cert   *pki.Pair
		status int
	}{
		{shopHost, lab.ClientA, 200}, {shopHost, lab.ClientB, 0}, {shopHost, nil, 0},
		{hostB, lab.ClientB, 200}, {hostB, lab.ClientA, 0}, {hostB, lab.ClientAExpired, 0},
		{other, nil, 200},
	} {
		want(fmt.Sprintf("enforce, %s with a certificate: %v", c.host, c.cert != nil), c.host, c.host, c.cert, c.status)
	}
	// No SNI: the default line serves the other names unverified, and the
	// guard refuses a rollout hostname.
	want("enforce, no SNI for a rollout hostname", "", shopHost, lab.ClientB, 421)

	rollbackAll(t, o, 2, orig)
	if _, err := os.Stat(list); !os.IsNotExist(err) {
		t.Errorf("rollback left the crt-list %s behind: %v", list, err)
	}
}
