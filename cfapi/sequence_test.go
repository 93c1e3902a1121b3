package cfapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

type leafPair struct{ cert, key []byte }

// rollout is the call sequence a zone-level then per-hostname rollout
// makes: verify, zone, SSL mode, zone certificate upload + wait + enable,
// three hostname certificates uploaded and awaited in parallel, then 250
// hostnames associated over them and awaited from the PUT's answer. It
// returns the number of calls that must run one after another (the
// critical path), given the client's concurrency bound.
func rollout(ctx context.Context, c *cfapi.SDKClient, sim *cfsim.Sim, zone string, zoneCert leafPair, hostCerts []leafPair, hosts []string, bound int) (int, error) {
	path := 0
	info, err := c.VerifyToken(ctx, "")
	if err != nil {
		return path, fmt.Errorf("verify: %w", err)
	}
	_ = info
	z, err := c.FindZone(ctx, zone)
	if err != nil {
		return path, err
	}
	if _, err := c.SSLMode(ctx, z.ID); err != nil {
		return path, err
	}
	path += 3
	up, err := c.UploadCertificate(ctx, z.ID, cfapi.LevelZone, zoneCert.cert, zoneCert.key)
	if err != nil {
		return path, err
	}
	polls := 0
	if _, err := c.WaitActive(ctx, z.ID, up.Ref(), func(cfapi.Certificate) { polls++ }); err != nil {
		return path, err
	}
	if _, err := c.SetZoneAOPEnabled(ctx, z.ID, true); err != nil {
		return path, err
	}
	path += 1 + polls + 1

	ids := make([]string, len(hostCerts))
	var maxPolls atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for i, hc := range hostCerts {
		g.Go(func() error {
			up, err := c.UploadCertificate(gctx, z.ID, cfapi.LevelHostname, hc.cert, hc.key)
			if err != nil {
				return err
			}
			var n int64
			if _, err := c.WaitActive(gctx, z.ID, up.Ref(), func(cfapi.Certificate) { n++ }); err != nil {
				return err
			}
			for old := maxPolls.Load(); n > old && !maxPolls.CompareAndSwap(old, n); old = maxPolls.Load() {
			}
			ids[i] = up.ID
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return path, err
	}
	path += 1 + int(maxPolls.Load())

	assocs := make([]cfapi.Association, len(hosts))
	per := (len(hosts) + len(ids) - 1) / len(ids)
	for i, h := range hosts {
		assocs[i] = cfapi.Association{Hostname: h, CertID: ids[i/per], Enabled: ptr(true)}
	}
	put, err := c.UpdateHostnames(ctx, z.ID, assocs)
	if err != nil {
		return path, err
	}
	path += (len(ids) + bound - 1) / bound
	before := len(sim.Requests())
	sts, err := c.WaitAssociations(ctx, z.ID, put, nil)
	if err != nil {
		return path, err
	}
	path += waitPath(sim.Requests()[before:], bound)
	for _, st := range sts {
		if st.CertID == "" || st.Enabled == nil || !*st.Enabled {
			return path, fmt.Errorf("hostname %s not associated: %+v", st.Hostname, st)
		}
	}
	return path, nil
}

// waitPath is the critical path of a hostname wait's requests: list pages
// one after another, single-hostname reads bound at a time.
func waitPath(rs []cfsim.Request, bound int) int {
	lists, gets := 0, 0
	for _, r := range rs {
		switch {
		case r.Method != "GET":
		case hasSuffix(r.Path, "/origin_tls_client_auth/hostnames"):
			lists++
		case strings.Contains(r.Path, "/origin_tls_client_auth/hostnames/"):
			gets++
		}
	}
	return lists + (gets+bound-1)/bound
}

func rolloutInput(t testing.TB) (leafPair, []leafPair, []string) {
	lab := newLab(t)
	zc, zk := lab.leaf(zoneName)
	var hcs []leafPair
	for i := range 3 {
		c, k := lab.leaf(fmt.Sprintf("group%d.%s", i, zoneName))
		hcs = append(hcs, leafPair{c, k})
	}
	hosts := make([]string, 250)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("app%03d.%s", i, zoneName)
	}
	return leafPair{zc, zk}, hcs, hosts
}

var allFaults = []cfsim.FaultKind{cfsim.Fault429, cfsim.Fault5xx, cfsim.FaultReset, cfsim.FaultResetAfter}

// The rollout survives injected 429s, 5xx answers and resets (before and
// after the request is applied) with every certificate uploaded exactly
// once:
//   - at 30% faults in one run. A call then fails its three default
//     attempts about once in a hundred, and the rollout makes hundreds of
//     calls, so this case raises the attempts: it is about duplicate safety
//     under heavy faults, not luck.
//   - at the default policy (three attempts for 5xx and resets, two retries
//     after a 429) and 10% faults, where a call occasionally exhausts its
//     attempts and the operator runs the rollout again: reruns must reuse
//     what landed.
func TestRolloutSurvivesFaults(t *testing.T) {
	t.Parallel()
	zc, hcs, hosts := rolloutInput(t)
	for _, tc := range []struct {
		name    string
		rate    float64
		maxRuns int
		mod     func(*cfapi.Config)
		seeds   []int64
	}{
		{"30% in one run", 0.3, 1, func(c *cfapi.Config) { c.MaxAttempts, c.RateLimitRetries = 10, 10 }, []int64{1, 2, 3}},
		{"10% at the default policy", 0.1, 5, nil, []int64{4, 5, 6}},
	} {
		for _, seed := range tc.seeds {
			t.Run(fmt.Sprint(tc.name, " seed ", seed), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, cfsim.Options{Seed: seed, DeployAfter: 2, Faults: cfsim.Faults{Rate: tc.rate, Kinds: []cfsim.FaultKind{
					cfsim.Fault429, cfsim.Fault5xx, cfsim.FaultReset, cfsim.FaultResetAfter}}}, tc.mod)
				var err error
				runs := 0
				for runs < tc.maxRuns {
					runs++
					if _, err = rollout(ctxT(t), h.c, h.sim, zoneName, zc, hcs, hosts, 4); err == nil {
						break
					}
					if !cfapi.IsKind(err, cfapi.KindServer) && !cfapi.IsKind(err, cfapi.KindRateLimited) &&
						!strings.Contains(err.Error(), "no answer after") {
						t.Fatalf("run %d: %v; want success or a call that used up its attempts", runs, err)
					}
					t.Logf("run %d ended: %v", runs, err)
				}
				if err != nil {
					t.Fatalf("rollout still failing after %d runs: %v", runs, err)
				}
				checkRollout(t, h, len(hosts), runs == 1)
			})
		}
	}
}

// checkRollout asserts what cfsim holds and logged after a rollout: four
// certificates, each applied by exactly one upload request (cfsim's count
// includes uploads whose answer was dropped), and every hostname enabled. In a single run no upload may even be rejected as a
// duplicate: an upload whose answer was lost is looked up, not re-sent.
func checkRollout(t *testing.T, h *harness, hosts int, singleRun bool) {
	t.Helper()
	if n := h.sim.Uploads(zoneName); n != 4 {
		t.Errorf("cfsim counted %d uploads, want 4 (one per certificate)", n)
	}
	certs := h.sim.Certificates(zoneName)
	serials := map[string]int{}
	for _, c := range certs {
		serials[c.Serial]++
	}
	if len(certs) != 4 || len(serials) != 4 {
		t.Errorf("sim holds %d certificates with %d distinct serials, want 4 and 4", len(certs), len(serials))
	}
	enabled := 0
	for _, a := range h.sim.Associations(zoneName) {
		if a.Enabled != nil && *a.Enabled {
			enabled++
		}
	}
	if enabled != hosts {
		t.Errorf("%d enabled associations, want %d", enabled, hosts)
	}
	rs := h.sim.Requests()
	rejected, faulted := 0, 0
	for _, r := range rs {
		if r.Faulted {
			faulted++
		}
		isUpload := r.Method == "POST" && (hasSuffix(r.Path, "/origin_tls_client_auth") || hasSuffix(r.Path, "/hostnames/certificates"))
		if isUpload && r.Status == 400 {
			rejected++
		}
	}
	if singleRun && rejected != 0 {
		t.Errorf("%d uploads were re-sent and rejected as duplicates: a lost answer must be looked up first", rejected)
	}
	if faulted == 0 {
		t.Error("no request was faulted: the test proves nothing")
	}
	t.Logf("%d requests, %d faulted", len(rs), faulted)
}

// BenchmarkSequenceSimulatedLatency runs the rollout against cfsim with
// 20 ms added to every request. It reports the calls made and wall time
// divided by (calls on the critical path × 20 ms): near 1 means cfapi
// parallelises what is independent and adds little of its own.
func BenchmarkSequenceSimulatedLatency(b *testing.B) {
	const latency = 20 * time.Millisecond
	zc, hcs, hosts := rolloutInput(b)
	var calls, path int
	var wall time.Duration
	for b.Loop() {
		h := newHarness(b, cfsim.Options{DeployAfter: 2, Faults: cfsim.Faults{
			Rate: 1, Kinds: []cfsim.FaultKind{cfsim.FaultLatency}, Latency: latency,
		}}, func(c *cfapi.Config) {
			// No contract validation here: it would add CPU time to the
			// measurement; the tests validate the same calls.
			c.HTTPClient = nil
			c.Sleep = nil
		})
		start := time.Now()
		p, err := rollout(context.Background(), h.c, h.sim, zoneName, zc, hcs, hosts, 4)
		wall += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		calls += len(h.sim.Requests())
		path += p
		h.srv.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(calls)/n, "calls/op")
	b.ReportMetric(float64(path)/n, "critical-path-calls/op")
	b.ReportMetric(wall.Seconds()/(float64(path)*latency.Seconds()), "wall/critical-path")
}

// associateInput is the per-hostname rollout at Cloudflare's limits: 10
// hostname certificates with 100 hostnames each.
func associateInput(t testing.TB) ([]leafPair, []string) {
	lab := newLab(t)
	certs := make([]leafPair, cfsim.MaxHostnameCerts)
	for i := range certs {
		c, k := lab.leaf(fmt.Sprintf("group%d.%s", i, zoneName))
		certs[i] = leafPair{c, k}
	}
	hosts := make([]string, cfsim.MaxHostnameCerts*cfsim.MaxHostnamesPerCert)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("app%04d.%s", i, zoneName)
	}
	return certs, hosts
}

// associateAll uploads certs and waits for them, associates hosts over them
// (100 each) and waits until every association is active: from the PUT's
// answer (fromPut) or, as before, by reading every hostname. It returns the
// number of API calls the simulator served.
func associateAll(ctx context.Context, h *harness, certs []leafPair, hosts []string, fromPut bool) (int, error) {
	ids := make([]string, len(certs))
	g, gctx := errgroup.WithContext(ctx)
	for i, lp := range certs {
		g.Go(func() error {
			up, err := h.c.UploadCertificate(gctx, h.zoneID, cfapi.LevelHostname, lp.cert, lp.key)
			if err != nil {
				return err
			}
			ids[i] = up.ID
			_, err = h.c.WaitActive(gctx, h.zoneID, up.Ref(), nil)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	per := (len(hosts) + len(ids) - 1) / len(ids)
	assocs := make([]cfapi.Association, len(hosts))
	for i, host := range hosts {
		assocs[i] = cfapi.Association{Hostname: host, CertID: ids[i/per], Enabled: ptr(true)}
	}
	put, err := h.c.UpdateHostnames(ctx, h.zoneID, assocs)
	if err != nil {
		return 0, err
	}
	var sts []cfapi.HostnameStatus
	if fromPut {
		sts, err = h.c.WaitAssociations(ctx, h.zoneID, put, nil)
	} else {
		sts, err = h.c.WaitHostnamesActive(ctx, h.zoneID, hosts, nil)
	}
	if err != nil {
		return 0, err
	}
	for i, st := range sts {
		if !st.Active() || st.Hostname != hosts[i] {
			return 0, fmt.Errorf("hostname %d: %+v, want %s active", i, st, hosts[i])
		}
	}
	return len(h.sim.Requests()), nil
}

// Associating and waiting for 1,000 hostnames costs a few dozen calls, not
// one per hostname: the PUT's answer already says which are active, the
// rest are polled with the association list, and only where the list is
// not served does the wait read hostnames one by one.
func TestAssociateThousandHostnamesCallBudget(t *testing.T) {
	t.Parallel()
	certs, hosts := associateInput(t)
	for _, tc := range []struct {
		name    string
		opts    cfsim.Options
		fromPut bool
		max     int
	}{
		// 10 uploads + 10 certificate reads + 10 PUTs.
		{"instant from the PUT's answer", cfsim.Options{}, true, 30},
		// Deploying after two reads: 10 uploads + 20 certificate reads + 10
		// PUTs + two list polls (each observing every association).
		{"deploying from the PUT's answer", cfsim.Options{DeployAfter: 2}, true, 10 + 20 + 10 + 2},
		// ... + one list read, as nothing is known before it.
		{"instant by hostname names", cfsim.Options{}, false, 31},
		// ... + one 404 from the list, then a GET per hostname.
		{"list not served", cfsim.Options{HideAssociationList: true}, false, 31 + len(hosts)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.opts, nil)
			calls, err := associateAll(ctxT(t), h, certs, hosts, tc.fromPut)
			if err != nil {
				t.Fatal(err)
			}
			if calls > tc.max {
				t.Errorf("%d API calls for %d hostnames, want at most %d", calls, len(hosts), tc.max)
			}
			t.Logf("%d calls", calls)
		})
	}
}

// BenchmarkAssociateThousandHostnames reports the API calls of one rollout
// of 1,000 hostnames over 10 certificates with instant deployment (target:
// at most 60), beside the per-hostname reads it replaces, measured in the
// same run with the association list not served.
func BenchmarkAssociateThousandHostnames(b *testing.B) {
	certs, hosts := associateInput(b)
	var calls, perHost int
	for b.Loop() {
		for _, list := range []bool{true, false} {
			h := newHarness(b, cfsim.Options{HideAssociationList: !list}, func(c *cfapi.Config) { c.HTTPClient = nil })
			n, err := associateAll(context.Background(), h, certs, hosts, list)
			if err != nil {
				b.Fatal(err)
			}
			if list {
				calls += n
			} else {
				perHost += n
			}
			h.srv.Close()
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(calls)/n, "calls/rollout")
	b.ReportMetric(float64(perHost)/n, "per-hostname-calls/rollout")
	b.ReportMetric(float64(calls)/float64(perHost), "calls/per-hostname-calls")
}

// WaitAssociations judges the PUT's answer first: a deployment that timed
// out fails without a request, disabled and voided associations are
// settled, and pending ones are read one by one when the list is not
// served.
func TestWaitAssociationsFromThePutAnswer(t *testing.T) {
	t.Parallel()
	certs, _ := associateInput(t)
	setup := func(t *testing.T, opts cfsim.Options) (*harness, string) {
		h := newHarness(t, opts, nil)
		up, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelHostname, certs[0].cert, certs[0].key)
		if err != nil {
			t.Fatal(err)
		}
		if !opts.DeployTimeout {
			if _, err := h.c.WaitActive(ctxT(t), h.zoneID, up.Ref(), nil); err != nil {
				t.Fatal(err)
			}
		}
		return h, up.ID
	}
	t.Run("deployment timed out", func(t *testing.T) {
		t.Parallel()
		h, id := setup(t, cfsim.Options{DeployTimeout: true})
		put, err := h.c.EnableHostnames(ctxT(t), h.zoneID, id, []string{"a." + zoneName})
		if err != nil {
			t.Fatal(err)
		}
		n := len(h.sim.Requests())
		if _, err := h.c.WaitAssociations(ctxT(t), h.zoneID, put, nil); !cfapi.IsKind(err, cfapi.KindDeploymentTimedOut) {
			t.Fatalf("WaitAssociations = %v, want deployment timed out", err)
		}
		if got := len(h.sim.Requests()) - n; got != 0 {
			t.Errorf("%d requests, want none: the PUT's answer already said it", got)
		}
	})
	t.Run("list not served", func(t *testing.T) {
		t.Parallel()
		h, id := setup(t, cfsim.Options{DeployAfter: 1, HideAssociationList: true})
		ctx := ctxT(t)
		hosts := []string{"a." + zoneName, "b." + zoneName, "c." + zoneName, "d." + zoneName}
		if _, err := h.c.EnableHostnames(ctx, h.zoneID, id, hosts[:2]); err != nil {
			t.Fatal(err)
		}
		var put []cfapi.HostnameStatus
		for _, en := range []*bool{ptr(true), ptr(false), nil} {
			sts, err := h.c.UpdateHostnames(ctx, h.zoneID, []cfapi.Association{{Hostname: hosts[len(put)+1], CertID: id, Enabled: en}})
			if err != nil {
				t.Fatal(err)
			}
			put = append(put, sts...)
		}
		n := len(h.sim.Requests())
		var seen []string
		sts, err := h.c.WaitAssociations(ctx, h.zoneID, put, func(st cfapi.HostnameStatus) { seen = append(seen, st.Hostname) })
		if err != nil || !sts[0].Active() || sts[1].Enabled == nil || *sts[1].Enabled {
			t.Fatalf("WaitAssociations = %+v, %v", sts, err)
		}
		rs := h.sim.Requests()[n:]
		var paths []string
		for _, r := range rs {
			paths = append(paths, r.Method+" "+r.Path[strings.LastIndex(r.Path, "/"):])
		}
		// The enabled one alone is pending: one GET, no list (a single name).
		if len(rs) != 1 || paths[0] != "GET /b."+zoneName {
			t.Errorf("requests %v, want one GET of the pending hostname", paths)
		}
		if len(seen) < 3 {
			t.Errorf("progress saw %v, want every hostname", seen)
		}
	})
}

// Reading the statuses of a certificate's 100 hostnames (as a rollout's
// verify step does) costs one page of the association list, not a request
// per hostname; where the list is not served, it still reads every one.
func TestHostnameStatusesReadsTheListNotEachHostname(t *testing.T) {
	t.Parallel()
	certs, _ := associateInput(t)
	hosts := make([]string, cfsim.MaxHostnamesPerCert)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("s%03d.%s", i, zoneName)
	}
	for _, tc := range []struct {
		name     string
		hideList bool
		max      int
	}{
		{"list served", false, 1},
		{"list not served", true, 1 + len(hosts)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfsim.Options{HideAssociationList: tc.hideList}, nil)
			up, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelHostname, certs[0].cert, certs[0].key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.c.WaitActive(ctxT(t), h.zoneID, up.Ref(), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := h.c.EnableHostnames(ctxT(t), h.zoneID, up.ID, hosts); err != nil {
				t.Fatal(err)
			}
			before := len(h.sim.Requests())
			sts, err := h.c.HostnameStatuses(ctxT(t), h.zoneID, hosts)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range sts {
				if st.Hostname != hosts[i] || !st.Active() || st.CertID != up.ID {
					t.Fatalf("status %d: %+v, want %s active on %s", i, st, hosts[i], up.ID)
				}
			}
			if calls := len(h.sim.Requests()) - before; calls > tc.max {
				t.Errorf("%d requests to read %d hostnames, want at most %d", calls, len(hosts), tc.max)
			}
		})
	}
}
