// Package steps composes pki, cfapi and origin into the Authenticated Origin
// Pulls rollout: one module per step of the Cloudflare docs (connect, plan,
// certificate, upload, origin-soft, enable, verify, enforce, alerts, done), a
// resumable state machine that drives them, and the rollout state file that
// survives a crash at any instant. The headless commands and the TUI drive
// the very same steps; nothing here prints or imports a UI.
//
// # Driving a rollout
//
//	in := steps.Inputs{Zone: "example.com", Mode: steps.ModeZone, ...}
//	problems := in.Validate()                // every problem at once; Field names the input
//	r := steps.NewRollout(steps.NewID(in.Zone, now), in, now)
//	h, err := steps.Store{Dir: stateDir}.Create(r) // locked, saved atomically
//	defer h.Close()
//	env := &steps.Env{Rollout: h.R, API: client, Origin: origin, Emit: onEvent, ...}
//	out, err := (&steps.Machine{Env: env, Saver: h}).Run(ctx)
//
// Run returns Outcome{Finished} at the end, Outcome{Waiting: StepEnforce}
// when the rollout is verified in the soft phase and waits for consent
// (Inputs.Enforce), an *Interrupted (wrapping context.Canceled) after a
// cancel with the state saved, or the failing step's error: a *StepError
// carries the remedy in product terms (RemedyOf), whether it is bad input
// (IsInput) and which input fixes it (FieldOf). Resume is Store.Open plus
// the same Run: a step left running or failed is first checked in the world,
// done steps are re-checked and re-run only when their effect is gone.
// Machine.Rollback undoes, newest first, only what the rollout recorded as
// its own change; Machine.Rotate replaces the client certificates under the
// same CA.
//
// # Dependencies
//
// Steps reach Cloudflare through the role interfaces (ZoneAPI, GlobalAPI,
// CertAPI, ZoneCertAPI, HostnameAPI, AlertAPI; *cfapi.SDKClient satisfies
// API), the origin server through OriginApplier (ServerOrigin wraps
// origin/apply; BuiltinHost runs the builtin origin in-process for the demo
// and tests), the origin probes through Prober (RealProber), and the proof
// through Cloudflare's edge through EdgeChecker (nil skips it).
//
// # Events
//
// Every step reports progress as Events through Env.Emit: one JSON object
// per event ({"time","rollout","step","status","message","fields"}); the
// last MaxEvents are kept in the state file. Status is a step transition
// (running, done, failed, skipped, pending) or progress (info, warning).
// Verification cells carry fields origin, hostname, case, expected,
// observed and result; manual mode's config carries path and content.
package steps
