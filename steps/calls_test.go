package steps

import (
	"fmt"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// A per-hostname rollout's API calls grow with its certificates and
// association batches, not with its hostnames: 40 hostnames on one
// certificate cost what 2 do (verify reads the association list, not
// each hostname).
func TestHostnameRolloutCallsDoNotGrowWithHostnames(t *testing.T) {
	calls := func(n int) int {
		hosts := make([]string, n)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("app%03d.%s", i, testZone)
		}
		l := newLab(t, cfsim.Options{})
		id, out, err := l.start(l.inputs(ModeHostname, hosts...), Secrets{}, nil)
		l.finished(id, out, err)
		return len(l.sim.Requests())
	}
	few, many := calls(2), calls(40)
	if many > few {
		t.Errorf("%d API calls for 40 hostnames, %d for 2: one certificate's hostnames must cost the same", many, few)
	}
}
