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
// check and restore. When the operator names no target, ChooseTarget
// decides between this and a managed block. (Compiled, not run: it needs
// a live server.)
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
	changes := plan.Changes()
	// Each hostname's check (its CA names and phase) on every address its blocks listen on.
	perHost, _ := apply.Targets(render.Spec{Server: render.Nginx, Phase: in.Phase, Mode: in.Mode, CAFile: in.CAFile,
		Hosts: []render.Host{{Name: "example.com"}, {Name: "www.example.com"}}})
	targets := inplace.ListenerTargets(hosts, perHost)
	if diff, err := apply.DryRun(changes); err == nil {
		fmt.Print(diff)
	}
	_, _ = apply.Apply(ctx, apply.Options{Driver: d, Runner: runner, CheckpointDir: "/var/lib/aopwizard/checkpoints", ID: in.ID, Targets: targets}, changes)
}
