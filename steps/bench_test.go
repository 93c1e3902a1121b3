package steps

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// BenchmarkRollout is a headless rollout (enforced, verified) per mode
// against cfsim and the builtin origin with 0 and 50 ms on every API call.
// api-calls/op counts the requests; critical-path-calls/op is the longest
// chain of requests that did not overlap (the calls that had to wait for
// one another); critical-path-ratio is the wall time over (critical-path
// calls x latency): near 1 means the rollout is as fast as its sequential
// API calls allow, the rest being probes, polls and key generation.
//
//	go test ./steps -run '^$' -bench Rollout -benchtime 1x
func BenchmarkRollout(b *testing.B) {
	for _, mode := range []Mode{ModeZone, ModeHostname, ModeGlobal} {
		for _, lat := range []time.Duration{0, 50 * time.Millisecond} {
			b.Run(fmt.Sprintf("mode=%s/latency=%s", mode, lat), func(b *testing.B) {
				benchRollout(b, mode, []string{"origin.example.test"}, lat)
			})
		}
	}
}

// BenchmarkHostnameScale is the per-hostname rollout for 10, 100 and 1,000
// hostnames (the last is Cloudflare's limit: 10 certificates x 100): the
// calls must grow with the certificates and the association batches, not
// with the hostnames.
//
//	go test ./steps -run '^$' -bench HostnameScale -benchtime 1x
func BenchmarkHostnameScale(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		hosts := make([]string, n)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("app%04d.%s", i, testZone)
		}
		b.Run(fmt.Sprintf("hostnames=%d", n), func(b *testing.B) {
			benchRollout(b, ModeHostname, hosts, 0)
		})
	}
}

func benchRollout(b *testing.B, mode Mode, hosts []string, lat time.Duration) {
	var calls, path, certs float64
	var wall time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		opts := cfsim.Options{}
		if lat > 0 {
			opts.Faults = cfsim.Faults{Rate: 1, Kinds: []cfsim.FaultKind{cfsim.FaultLatency}, Latency: lat}
		}
		l := newLab(b, opts)
		in := l.inputs(mode, hosts...)
		b.StartTimer()
		start := time.Now()
		id, out, err := l.start(in, Secrets{}, nil)
		wall += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("%v\n%s", err, l.events.text())
		}
		l.finished(id, out, err)
		rs := l.sim.Requests()
		calls += float64(len(rs))
		path += float64(criticalPathCalls(rs, lat))
		certs += float64(len(l.sim.Certificates(testZone)))
		l.host.Close()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(calls/n, "api-calls/op")
	b.ReportMetric(certs/n, "certificates/op")
	b.ReportMetric(wall.Seconds()*1000/n, "wall-ms/op")
	if lat > 0 {
		b.ReportMetric(path/n, "critical-path-calls/op")
		b.ReportMetric(wall.Seconds()/(path*lat.Seconds()), "critical-path-ratio")
	}
}

// criticalPathCalls is the longest chain of requests each of which arrived
// after the one before it had been answered, every answer taking at least
// lat: greedily, by arrival, the earliest request that could follow. With
// answers of equal length, that greedy chain is the longest.
func criticalPathCalls(rs []cfsim.Request, lat time.Duration) int {
	times := make([]time.Time, len(rs))
	for i, r := range rs {
		times[i] = r.Time
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	n := 0
	var next time.Time
	for _, t := range times {
		if n == 0 || !t.Before(next) {
			n++
			next = t.Add(lat)
		}
	}
	return n
}
