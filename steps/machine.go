package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrAwaitingConsent is returned by a step that must not run without the
// operator's explicit go-ahead (enforce): the machine leaves it pending and
// stops, which is a normal end (the staged rollout), not a failure.
var ErrAwaitingConsent = errors.New("waiting for the operator's go-ahead")

// ErrSkip is returned by a step with nothing to do for this rollout.
var ErrSkip = errors.New("nothing to do")

// Saver persists the rollout; *Handle is the real one.
type Saver interface{ Save() error }

type nopSaver struct{}

func (nopSaver) Save() error { return nil }

// HookPoint is an instant of a step a test hook can stop at.
type HookPoint string

// Hook points: BeforeRun is after the step was saved as running and before
// it did anything; AfterRun is after its effect and before it was saved as
// done. Together they cover every crash window of a step.
const (
	BeforeRun HookPoint = "before-run"
	AfterRun  HookPoint = "after-run"
)

// Machine drives a rollout's steps in order, saving after every transition.
type Machine struct {
	Env   *Env
	Saver Saver
	// Lookup returns the module for a step; nil means Module.
	Lookup func(StepName) Step
	// Hook, when set, is called at each HookPoint; an error stops the
	// machine at once without saving anything more, as a crash would.
	// Tests use it to crash at a chosen instant.
	Hook func(step StepName, at HookPoint) error
	// StopAfter, when set, ends Run once that step is done or skipped
	// (Outcome.Stopped): the wizard runs one step per screen.
	StopAfter StepName
}

// Outcome is how a Run ended without error.
type Outcome struct {
	// Finished: every step done or skipped.
	Finished bool
	// Waiting names the step that waits for consent (enforce).
	Waiting StepName
	// Stopped: the StopAfter step is done or skipped; later steps wait.
	Stopped bool
}

// Interrupted wraps the context's error when a run was cancelled; the state
// was saved first.
type Interrupted struct {
	Step StepName
	Err  error
}

func (e *Interrupted) Error() string {
	return fmt.Sprintf("interrupted during %s (state saved; resume to go on): %v", e.Step, e.Err)
}

func (e *Interrupted) Unwrap() error { return e.Err }

type crash struct{ err error }

func (m *Machine) save() error {
	m.Env.Rollout.Updated = m.Env.now()
	if m.Saver == nil {
		return nopSaver{}.Save()
	}
	return m.Saver.Save()
}

func (m *Machine) hook(step StepName, at HookPoint) *crash {
	if m.Hook == nil {
		return nil
	}
	if err := m.Hook(step, at); err != nil {
		return &crash{err}
	}
	return nil
}

func (m *Machine) lookup(n StepName) Step {
	if m.Lookup != nil {
		return m.Lookup(n)
	}
	return Module(n)
}

// Run drives the rollout from its first unfinished step. A step a previous
// run left running or failed is first checked in the world (its effect may
// have happened just before a crash); a done step is checked cheaply and run
// again only if its effect is gone, which an event says.
func (m *Machine) Run(ctx context.Context) (Outcome, error) {
	env, r := m.Env, m.Env.Rollout
	env.save = m.save
	if r.RolledBack {
		return Outcome{}, fmt.Errorf("rollout %s was rolled back; start a new one", r.ID)
	}
	for i := range r.Steps {
		if i > 0 && m.StopAfter != "" && r.Steps[i-1].Name == m.StopAfter {
			return Outcome{Stopped: true}, nil
		}
		st := &r.Steps[i]
		if st.Status == StatusSkipped {
			continue
		}
		step := m.lookup(st.Name)
		if step == nil {
			return Outcome{}, fmt.Errorf("rollout %s has a step %q this aopwizard does not know", r.ID, st.Name)
		}
		env.step = st.Name
		if err := ctx.Err(); err != nil {
			return Outcome{}, m.interrupted(st, err)
		}
		if st.Status != StatusPending {
			ok, err := step.Check(ctx, env)
			switch {
			case err != nil && ctx.Err() != nil:
				return Outcome{}, m.interrupted(st, ctx.Err())
			case err != nil:
				env.warn("could not check whether this step's effect is in place: "+err.Error()+"; running it again", "error", err.Error())
			case ok && st.Status == StatusDone:
				env.info("still in place (checked)")
				continue
			case ok:
				env.info("found done in the world: a previous run stopped before recording it")
				if err := m.finish(st); err != nil {
					return Outcome{}, err
				}
				continue
			case st.Status == StatusDone:
				env.warn("its effect is gone since it was done; running it again")
			}
		}
		now := env.now()
		st.Status, st.Started, st.Finished, st.Error, st.Remedy = StatusRunning, &now, nil, "", ""
		st.Attempts++
		if err := m.save(); err != nil {
			return Outcome{}, err
		}
		env.emit(StatusRunning, "started")
		if c := m.hook(st.Name, BeforeRun); c != nil {
			return Outcome{}, c.err
		}
		err := step.Run(ctx, env)
		if err == nil {
			if c := m.hook(st.Name, AfterRun); c != nil {
				return Outcome{}, c.err
			}
		}
		switch {
		case err == nil:
			if err := m.finish(st); err != nil {
				return Outcome{}, err
			}
		case errors.Is(err, ErrSkip):
			st.Status, st.Finished = StatusSkipped, ptr(env.now())
			env.emit(StatusSkipped, "skipped: "+err.Error())
			if err := m.save(); err != nil {
				return Outcome{}, err
			}
		case errors.Is(err, ErrAwaitingConsent):
			st.Status, st.Started = StatusPending, nil
			st.Attempts--
			env.emit(StatusPending, err.Error())
			return Outcome{Waiting: st.Name}, m.save()
		case ctx.Err() != nil:
			return Outcome{}, m.interrupted(st, ctx.Err())
		default:
			var se *StepError
			if errors.As(err, &se) && se.Step == "" {
				se.Step = st.Name
			}
			st.Status, st.Finished, st.Error, st.Remedy = StatusFailed, ptr(env.now()), err.Error(), RemedyOf(err)
			env.emit(StatusFailed, err.Error(), "remedy", st.Remedy)
			if serr := m.save(); serr != nil {
				return Outcome{}, errors.Join(err, serr)
			}
			return Outcome{}, err
		}
		if env.DryRun && st.Name == StepPlan {
			return Outcome{Waiting: StepCertificate}, nil
		}
	}
	return Outcome{Finished: true}, nil
}

func (m *Machine) finish(st *StepState) error {
	st.Status, st.Finished, st.Error, st.Remedy = StatusDone, ptr(m.Env.now()), "", ""
	m.Env.emit(StatusDone, "done")
	return m.save()
}

// interrupted records the cancellation on the step (left running, so the
// next run checks the world first) and saves.
func (m *Machine) interrupted(st *StepState, cause error) error {
	m.Env.emit(EventWarning, "interrupted; the state is saved and the next run checks this step first")
	if err := m.save(); err != nil {
		return errors.Join(&Interrupted{Step: st.Name, Err: cause}, err)
	}
	return &Interrupted{Step: st.Name, Err: cause}
}

// Rollback undoes, in reverse order, every step that did or may have done
// something (done, running or failed), and marks the rollout rolled back.
// Each Undo reverts only what this rollout recorded as its own change.
func (m *Machine) Rollback(ctx context.Context) error {
	env, r := m.Env, m.Env.Rollout
	env.save = m.save
	env.step = "rotate"
	if err := undoRotations(ctx, env); err != nil {
		env.emit(StatusFailed, "undo failed: "+err.Error())
		return errors.Join(err, m.save())
	}
	if err := m.save(); err != nil {
		return err
	}
	for i := len(r.Steps) - 1; i >= 0; i-- {
		st := &r.Steps[i]
		if st.Status == StatusPending || st.Status == StatusSkipped {
			continue
		}
		step := m.lookup(st.Name)
		if step == nil {
			return fmt.Errorf("rollout %s has a step %q this aopwizard does not know", r.ID, st.Name)
		}
		env.step = st.Name
		if err := step.Undo(ctx, env); err != nil {
			env.emit(StatusFailed, "undo failed: "+err.Error())
			st.Error, st.Remedy = "undo: "+err.Error(), RemedyOf(err)
			return errors.Join(err, m.save())
		}
		st.Status, st.Started, st.Finished, st.Error, st.Remedy = StatusPending, nil, nil, "", ""
		env.emit(StatusPending, "undone")
		if err := m.save(); err != nil {
			return err
		}
	}
	env.step = ""
	r.RolledBack, r.Outcome = true, "rolled back"
	env.info("rolled back")
	return m.save()
}

// undoRotations restores the origin changes of rotations to a new CA,
// newest first, and hands the certificates a rotation in progress uploaded
// to the upload step's undo, so the steps' undo finds the rollout as it
// was before the rotations.
func undoRotations(ctx context.Context, env *Env) error {
	r := env.Rollout
	if rot := r.Rotation; rot != nil {
		for _, ch := range []*PhaseChange{&rot.Only, &rot.Both} {
			if ch.Checkpoint == "" {
				continue
			}
			if err := undoPhase(ctx, env, ch); err != nil {
				return err
			}
		}
		for _, c := range rot.New {
			if c.Uploaded && !slices.ContainsFunc(r.Certificates, func(x CertRecord) bool { return x.ID == c.ID }) {
				r.Certificates = append(r.Certificates, c)
			}
		}
		r.Rotation = nil
	}
	for i := len(r.Changes.Rotated) - 1; i >= 0; i-- {
		if err := undoPhase(ctx, env, &r.Changes.Rotated[i]); err != nil {
			return err
		}
		r.Changes.Rotated = r.Changes.Rotated[:i]
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
