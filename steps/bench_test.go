package steps

import (
	"fmt"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// BenchmarkZoneRollout is a headless zone rollout (enforced, verified)
// against cfsim and the builtin origin with 0 and 50 ms on every API call.
// api-calls/op counts the requests; critical-path-ratio is the wall time over
// (API calls x latency): near 1 means the rollout is as fast as its
// sequential API calls allow, the rest being probes and key generation.
func BenchmarkZoneRollout(b *testing.B) {
	for _, lat := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s", lat), func(b *testing.B) {
			var calls, wall float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				opts := cfsim.Options{}
				if lat > 0 {
					opts.Faults = cfsim.Faults{Rate: 1, Kinds: []cfsim.FaultKind{cfsim.FaultLatency}, Latency: lat}
				}
				l := newLab(b, opts)
				in := l.inputs(ModeZone, "origin.example.test")
				b.StartTimer()
				start := time.Now()
				if _, _, err := l.start(in, Secrets{}, nil); err != nil {
					b.Fatal(err)
				}
				wall += time.Since(start).Seconds()
				b.StopTimer()
				calls += float64(len(l.sim.Requests()))
				l.host.Close()
			}
			b.ReportMetric(calls/float64(b.N), "api-calls/op")
			if lat > 0 {
				b.ReportMetric(wall/(calls*lat.Seconds()), "critical-path-ratio")
			}
		})
	}
}
