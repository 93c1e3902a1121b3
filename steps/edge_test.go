package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeEdge answers every hostname with a fixed status and ray.
type fakeEdge struct {
	status int
	ray    string
}

func (f fakeEdge) CheckEdge(_ context.Context, h string) (EdgeResult, error) {
	return EdgeResult{Hostname: h, Status: f.status, Ray: f.ray}, nil
}

// TestEdgeProofNeedsTheRayVerifiedInTheLog: a 200 through the edge is not
// the proof; the origin must have logged that very request (its cf-ray)
// with a verified certificate. Each way it can fall short is a failure
// that says what happened.
func TestEdgeProofNeedsTheRayVerifiedInTheLog(t *testing.T) {
	defer func(d time.Duration) { rayWait = d }(rayWait)
	rayWait = 300 * time.Millisecond
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	lines := `aop1 time=2026-11-29T01:00:00Z sni=a.example.test host=a.example.test status=200 verify="SUCCESS" fp=ab serial=01 subject="CN=c" issuer="CN=Our CA" client=127.0.0.1 ray="ray-ok"
aop1 time=2026-11-29T01:00:01Z sni=a.example.test host=a.example.test status=200 verify="NONE" fp=- serial=- subject="-" issuer="-" client=127.0.0.1 ray="ray-none"
`
	if err := os.WriteFile(log, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		edge  fakeEdge
		log   string
		wants string // "" = passes
	}{
		{"verified", fakeEdge{200, "ray-ok"}, log, ""},
		{"not verified", fakeEdge{200, "ray-none"}, log, "with verification NONE"},
		{"never arrived", fakeEdge{200, "ray-other"}, log, "is not in the origin's evidence log"},
		{"edge error", fakeEdge{526, "ray-ok"}, log, "HTTP 526 through the edge"},
		{"log elsewhere", fakeEdge{200, "ray-x"}, filepath.Join(dir, "absent.log"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var events []Event
			r := &Rollout{ID: "r", Inputs: Inputs{Zone: "example.test", Hostnames: []string{"a.example.test"}, Server: "nginx"}}
			r.Inputs.Origin.AccessLog = c.log
			env := &Env{Rollout: r, Edge: c.edge, Emit: func(e Event) { events = append(events, e) }}
			failures, _ := edgeProof(context.Background(), env)
			got := strings.Join(failures, "; ")
			if c.wants == "" && len(failures) > 0 || c.wants != "" && !strings.Contains(got, c.wants) {
				t.Fatalf("failures %q, want %q", got, c.wants)
			}
			if c.name == "log elsewhere" && (len(events) == 0 || !strings.Contains(events[len(events)-1].Message, "unproven")) {
				t.Fatalf("an unreadable log must say the proof is incomplete: %+v", events)
			}
		})
	}
}
