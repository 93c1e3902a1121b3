package inplace_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// ExamplePlanFor is what `origin apply --target existing` does: plan the
// in-place edit, show conflicts and ask before overriding them, then
// write with origin/apply's checkpoint, config test, reload, listener
// check and restore. (Compiled, not run: it needs a live server.)
func ExamplePlanFor() {
	ctx := context.Background()
	d, _ := server.Debian(render.Nginx)
	runner := server.NewExecRunner(os.Stderr)
	in := inplace.Input{ID: "example.com", Phase: render.Soft, Mode: render.Zone,
		CAFile: "/etc/ssl/aop/example.com-ca.pem", AccessLog: "/var/log/nginx/aopwizard-example.com.log"}
	plan, hosts, err := inplace.PlanFor(ctx, runner, d, []string{"example.com", "www.example.com"}, in)
	switch {
	case errors.Is(err, inplace.ErrNoBlock):
		// No TLS site: offer a new managed block (origin/render) instead.
		return
	case errors.Is(err, inplace.ErrLoose):
		for _, h := range hosts {
			if h.Flagged {
				fmt.Println(h.Hostname+":", h.Detail)
			}
		}
		// After the operator confirms: in.AllowLoose = true, plan again.
		return
	case errors.Is(err, inplace.ErrConflict):
		for _, c := range plan.Conflicts {
			fmt.Println("conflict:", c, "->", c.Resolution)
		}
		// After the operator confirms: in.Override = true, plan again.
		return
	case err != nil:
		return
	}
	for _, w := range plan.Warnings {
		fmt.Println("warning:", w)
	}
	var changes []apply.Change
	for _, e := range plan.Edits {
		c := apply.Change{Path: e.Path, Content: e.New}
		if e.Created {
			c.Mode = 0o644
		}
		changes = append(changes, c)
	}
	var targets []apply.Target
	for _, h := range hosts {
		for _, b := range h.Blocks {
			for _, addr := range b.DialAddrs() {
				targets = append(targets, apply.Target{Addr: addr, SNI: h.Hostname, Phase: in.Phase})
			}
		}
	}
	if diff, err := apply.DryRun(changes); err == nil {
		fmt.Print(diff)
	}
	_, _ = apply.Apply(ctx, apply.Options{Driver: d, Runner: runner, CheckpointDir: "/var/lib/aopwizard/checkpoints", ID: in.ID, Targets: targets}, changes)
}
