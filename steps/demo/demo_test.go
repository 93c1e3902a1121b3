package demo

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aopwizard/aopwizard/steps"
)

// The API the interactive wizard uses: Start, Inputs, NewRollout driven by
// a steps.Machine, Close. The rollout ends enforced and proven through the
// edge; Close removes everything.
func TestStartNewRolloutClose(t *testing.T) {
	tmp := t.TempDir()
	w, err := Start(context.Background(), Options{Mode: steps.ModeHostname, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	in := w.Inputs()
	if in.Zone != Zone || in.Mode != steps.ModeHostname || len(in.Hostnames) != len(Hostnames) || !in.Enforce {
		t.Fatalf("inputs %+v", in)
	}
	var mu sync.Mutex
	var msgs []string
	h, env, err := w.NewRollout(in, func(e steps.Event) {
		mu.Lock()
		msgs = append(msgs, e.Message)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := (&steps.Machine{Env: env, Saver: h}).Run(context.Background())
	h.Close()
	if err != nil || !out.Finished || h.R.Outcome != steps.OutcomeEnforcedEdge {
		t.Fatalf("outcome %+v %q: %v\n%s", out, h.R.Outcome, err, strings.Join(msgs, "\n"))
	}
	if n := w.Sim.Sim.Uploads(Zone); n != 1 {
		t.Fatalf("%d uploads", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Close left %s: %v", w.Dir, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

// Run stops at once on a cancelled context with steps.Interrupted, and
// Start refuses bad options before making anything.
func TestRunInterruptedAndBadOptions(t *testing.T) {
	tmp := t.TempDir()
	w, err := Start(context.Background(), Options{TempDir: tmp, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = w.Run(ctx, nil)
	var in *steps.Interrupted
	if !errors.As(err, &in) {
		t.Fatalf("Run on a cancelled context: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.Dir); err != nil {
		t.Fatalf("Keep: %v", err)
	}
	for _, o := range []Options{{Mode: "sideways", TempDir: tmp}, {Origin: "caddy", TempDir: tmp}} {
		if _, err := Start(context.Background(), o); err == nil {
			t.Fatalf("Start(%+v) accepted", o)
		}
	}
	if es, _ := os.ReadDir(tmp); len(es) != 1 {
		t.Fatalf("bad options made directories: %v", es)
	}
}
