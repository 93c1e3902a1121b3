package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/origin/render"
)

// enforceStep switches the origin to the enforce phase, only with the
// operator's explicit go-ahead, and proves it: no certificate and a wrong
// CA are refused, the right certificate is served. On failure it returns
// to the soft phase when the operator asked for that.
type enforceStep struct{}

// OutcomeEnforcedEdge is the end of a rollout whose requests through
// Cloudflare's edge were found in the origin's log, verified.
const OutcomeEnforcedEdge = "enforced, verified through the edge"

func (enforceStep) Name() StepName { return StepEnforce }

func (enforceStep) Run(ctx context.Context, env *Env) error {
	r := env.Rollout
	if !r.Inputs.Enforce {
		r.Outcome = "soft, verified; enforce pending"
		return ErrAwaitingConsent
	}
	if err := setPhase(ctx, env, render.Enforce, &r.Changes.Enforce); err != nil {
		return err
	}
	failures := matrix(ctx, env, probe.Enforce)
	edge, proven := edgeProof(ctx, env)
	failures = append(failures, edge...)
	if len(failures) == 0 {
		r.Outcome = "enforced, verified"
		if proven {
			r.Outcome = OutcomeEnforcedEdge
		}
		env.info("enforce phase verified")
		return nil
	}
	err := fmt.Errorf("the enforce phase does not behave as it must: %s", strings.Join(failures, "; "))
	if r.Inputs.AutoRevert && r.Inputs.OriginConfig == OriginApply {
		if uerr := undoPhase(ctx, env, &r.Changes.Enforce); uerr != nil {
			return fail(fmt.Errorf("%w; and returning to the soft phase failed: %w", err, uerr), "restore the origin's soft phase by hand")
		}
		r.Changes.Phase = string(render.Soft)
		return fail(fmt.Errorf("%w; returned to the soft phase", err), "fix the cause and resume to enforce again")
	}
	return fail(err, "roll the origin back to the soft phase, or fix the cause and resume")
}

func (enforceStep) Check(ctx context.Context, env *Env) (bool, error) {
	if !env.Rollout.Inputs.Enforce {
		return false, nil
	}
	return phaseInPlace(ctx, env, render.Enforce, &env.Rollout.Changes.Enforce)
}

func (enforceStep) Undo(ctx context.Context, env *Env) error {
	return undoPhase(ctx, env, &env.Rollout.Changes.Enforce)
}
