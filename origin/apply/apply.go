// Package apply changes a web server's configuration the way certbot's
// reverter does (docs/origin-servers.md, "Safe-edit pattern"): test the
// current config and refuse
// if it already fails, lock, checkpoint every file, write atomically, test
// again, reload, and check the listener with real TLS handshakes. On any
// failure or cancellation it restores the checkpoint byte for byte, reloads
// and says so. Every run first recovers a checkpoint a killed run left
// in progress, and Rollback restores the last finalised one.
package apply

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// Change is the full new content of one file, or a new symlink.
type Change struct {
	Path    string      // absolute
	Content []byte      // what the file must hold afterwards
	Mode    fs.FileMode // for a new file; an existing file keeps its mode and owner
	Link    string      // if set, Path becomes a symlink to Link (Apache's sites-enabled)
	// Original is what Path held when the change was planned: the SHA-256
	// of its bytes (hex), or Absent. Apply refuses the change with
	// ErrPlanStale when the file differs now, so a plan confirmed on one
	// screen cannot overwrite an edit made since. Changes fills it; a
	// change without it is not checked.
	Original string
}

// Absent is Change.Original for a file that did not exist when planned.
const Absent = "absent"

// written is what the checkpoint records as written, to detect later edits.
func (c Change) written() []byte {
	if c.Link != "" {
		return []byte("symlink:" + c.Link)
	}
	return c.Content
}

// current is the same for what is on disk now.
func current(path string, link bool) ([]byte, error) {
	if link {
		target, err := os.Readlink(path)
		return []byte("symlink:" + target), err
	}
	return readConfig(path)
}

// readConfig reads a server config file (or a checkpoint copy of one),
// capped and regular files only.
func readConfig(path string) ([]byte, error) {
	return server.ReadFile(path, server.MaxConfigFile, "config file")
}

// Options configure Apply, Rollback and Recover.
type Options struct {
	Driver        *server.Driver
	Runner        server.Runner // runs each command; nil: a server.ExecRunner
	CheckpointDir string        // holds the lock file and the checkpoints
	ID            string        // label of the checkpoint, e.g. the zone

	// Events receives the progress as it happens, every command the
	// runner runs with its output included; may be nil. Event.Text gives
	// the lines of a text log.
	Events func(Event)

	// Targets are the listener checks after a reload; none skips them.
	Targets []Target
	// ProbeTimeout bounds the listener check after the apply's reload
	// (default 15s). The check after a restore waits at least the default:
	// giving up early there leaves the server in doubt.
	ProbeTimeout time.Duration

	// AfterWrite runs once the new files are in place, before the config
	// test. Tests use it to stand in for a kill between write and reload.
	AfterWrite func(ctx context.Context) error

	// Force lets Rollback overwrite files edited since the apply.
	Force bool

	// Overrides adjust the driver recorded in a checkpoint of the same
	// server kind before it is used to test and reload (e.g. a new reload
	// command). Rollback without a Driver takes the newest checkpoint of
	// any server.
	Overrides server.Overrides

	now  func() time.Time
	step string // of the last Started event, for the commands it runs
	// oldGenerationLive is set when the apply's reload was watched and
	// never replaced the server's processes: those still run the original
	// config, so the restore need not wait for them to go.
	oldGenerationLive bool
}

// Result says what a run did.
type Result struct {
	Checkpoint string   // checkpoint dir name
	Changed    []string // files written
	Restored   []string // "restored PATH" / "removed PATH"
	Recovered  []string // checkpoints recovered before the run
	Unchanged  bool     // nothing to write
}

// ErrConfigBroken is wrapped when the current config fails its test before
// anything is touched.
var ErrConfigBroken = errors.New("the current server config already fails its config test")

// ErrPlanStale is wrapped when a file changed between planning (Changes)
// and Apply; nothing was written.
var ErrPlanStale = errors.New("file changed since the change was planned")

// ErrRestored is wrapped when a change failed and the originals were put
// back; the error text says what failed and what was restored.
var ErrRestored = errors.New("change rolled back")

const defaultProbeTimeout = 15 * time.Second

// restoreTimeout bounds the clean-up after a failure or signal; it runs on
// a context that the signal no longer cancels.
const restoreTimeout = 2 * time.Minute

func (o *Options) validate(needDriver bool) error {
	if (needDriver && o.Driver == nil) || o.CheckpointDir == "" {
		return errors.New("apply: driver and checkpoint dir are required")
	}
	if o.Runner == nil {
		o.Runner = server.NewExecRunner(nil)
	}
	o.Runner = eventRunner{inner: o.Runner, o: o}
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = defaultProbeTimeout
	}
	if o.now == nil {
		o.now = time.Now
	}
	return nil
}

// Apply writes changes safely. On failure it returns an error wrapping
// ErrRestored (or context.Canceled when ctx was cancelled) after restoring
// the checkpoint and reloading the server.
func Apply(ctx context.Context, o Options, changes []Change) (*Result, error) {
	if err := o.validate(true); err != nil {
		return nil, err
	}
	for _, c := range changes {
		if !filepath.IsAbs(c.Path) {
			return nil, fmt.Errorf("apply: %s is not an absolute path", c.Path)
		}
	}
	// Bad paths are bad input, not a config that fails its test.
	if err := o.Driver.Check(); err != nil {
		return nil, err
	}
	l, res, err := begin(ctx, &o)
	if l != nil {
		defer l.release()
	}
	if err != nil {
		return res, err
	}

	o.note(Started, StepTestCurrent, "Testing the current %s config before changing anything", o.Driver.Kind)
	if err := o.Driver.Test(ctx, o.Runner); err != nil {
		return res, &server.Error{Err: fmt.Errorf("%w, so aopwizard changed nothing: %w", ErrConfigBroken, err),
			Kind: server.RemedyFixConfig, Remedy: "fix it first (the config test's output says why)"}
	}

	todo, err := pending(changes)
	if err != nil {
		return res, err
	}
	if len(todo) == 0 {
		o.note(Done, StepApply, "Nothing to change: the files already hold this config")
		res.Unchanged = true
		return res, nil
	}

	cp, err := newCheckpoint(o.CheckpointDir, o.ID, o.Driver, o.now())
	if err != nil {
		return res, err
	}
	res.Checkpoint = cp.Name()
	for _, c := range todo {
		if err := cp.save(c.Path, c.written(), c.Link != ""); err != nil {
			return res, errors.Join(err, discard(cp))
		}
		dirs, err := missingDirs(filepath.Dir(c.Path))
		if err != nil {
			return res, errors.Join(err, discard(cp))
		}
		cp.Dirs = append(dirs, cp.Dirs...)
	}
	cp.Baseline = baseline(ctx, o.Targets)
	if err := ctx.Err(); err != nil {
		return res, errors.Join(err, discard(cp))
	}
	// From here on a kill leaves a complete manifest and the marker, and
	// recovery restores the originals.
	if err := cp.writeManifest(); err != nil {
		return res, errors.Join(err, discard(cp))
	}
	o.emit(Event{Kind: CheckpointSaved, Step: StepCheckpoint, Checkpoint: cp.Name(),
		Message: fmt.Sprintf("Checkpoint %s saved %d file(s)", cp.Dir, len(cp.Files))})

	fail := func(step error) (*Result, error) { return res, o.rollBack(ctx, cp, res, step) }
	for _, c := range todo {
		if err := writeNew(c); err != nil {
			return fail(fmt.Errorf("write %s: %w", c.Path, err))
		}
		res.Changed = append(res.Changed, c.Path)
		o.emit(Event{Kind: FileWritten, Step: StepWrite, File: c.Path, Message: "Wrote " + c.Path})
	}
	if o.AfterWrite != nil {
		if err := o.AfterWrite(ctx); err != nil {
			return fail(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	o.emit(Event{Kind: Started, Step: StepTestNew}) // no line: the command shows it
	if err := o.Driver.Test(ctx, o.Runner); err != nil {
		return fail(fmt.Errorf("the new config fails its test: %w", err))
	}
	if err := o.reloadAndCheck(ctx, o.Driver, o.Targets); err != nil {
		return fail(err)
	}
	if err := cp.setState(StateFinalised, ""); err != nil {
		return fail(err)
	}
	o.emit(Event{Kind: Done, Step: StepApply, Checkpoint: cp.Name(),
		Message: fmt.Sprintf("Applied: %s serves the new config (checkpoint %s; undo with `aopwizard origin rollback`)", o.Driver.Kind, cp.Name())})
	return res, nil
}

// reloadAndCheck reloads d and waits until targets show the new config
// served by a new generation of the server's processes: the old one keeps
// accepting connections for a while after the reload command returns.
func (o *Options) reloadAndCheck(ctx context.Context, d *server.Driver, targets []Target) error {
	w := watchReload(targets)
	o.emit(Event{Kind: Started, Step: StepReload})
	if err := d.Reload(ctx, o.Runner); err != nil {
		return err
	}
	err := o.checkListener(ctx, d, targets, w)
	o.oldGenerationLive = err != nil && w != nil && w.replaced() != nil
	return err
}

// begin takes the lock and recovers what a killed run left, as every
// mutating run must first. The caller releases a non-nil lock.
func begin(ctx context.Context, o *Options) (*lock, *Result, error) {
	l, err := acquire(o.CheckpointDir)
	if err != nil {
		return nil, nil, err
	}
	res := &Result{}
	res.Recovered, err = recoverLocked(ctx, o)
	return l, res, err
}

// checkListener waits until targets show the reloaded config: a zero exit
// from the reload command only means the request was delivered.
func (o *Options) checkListener(ctx context.Context, d *server.Driver, targets []Target, w *reloadWatch) error {
	if len(targets) == 0 {
		return nil
	}
	o.note(Started, StepListener, "Checking the listener with TLS handshakes (a reload applies asynchronously)")
	if err := o.live(ctx, d, targets, w); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	o.note(ListenerChecked, StepListener, "Listener OK: the reloaded config is live")
	return nil
}

// rollBack restores cp after step failed, reloads, and returns an error
// that names what failed and what was restored.
func (o *Options) rollBack(ctx context.Context, cp *Checkpoint, res *Result, step error) error {
	o.emit(Event{Kind: Failed, Step: StepApply, Err: step, Checkpoint: cp.Name(), Message: fmt.Sprintf("Failed: %v", step)})
	o.emit(Event{Kind: Started, Step: StepRestore, Checkpoint: cp.Name(), Message: "Restoring checkpoint " + cp.Name()})
	restored, err := o.restoreAndReload(ctx, cp, fmt.Sprintf("apply failed: %v", step), nil)
	res.Restored = restored
	what := "restored " + plural(len(restored), "file") + " and reloaded " + string(o.Driver.Kind)
	if err != nil {
		what = fmt.Sprintf("restoring failed too, fix by hand from %s: %v", cp.Dir, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; %s: %w", what, step)
	}
	return fmt.Errorf("%w: %w; %s", ErrRestored, step, what)
}

// restoreAndReload puts cp's files back, tests and reloads, then marks cp
// restored and checks that the listener shows the baseline (and extra)
// again. It runs on a context the caller's cancellation does not reach: a
// signal must not stop the clean-up it triggered.
func (o *Options) restoreAndReload(ctx context.Context, cp *Checkpoint, reason string, extra []Target) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	restored, err := cp.restore()
	for _, r := range restored {
		step, file, _ := strings.Cut(r, " ")
		if step == "removed" {
			step = StepRemove
		} else {
			step = StepRestore
		}
		o.emit(Event{Kind: FileWritten, Step: step, File: file, Checkpoint: cp.Name(), Message: "  " + r})
	}
	if err != nil {
		return restored, err
	}
	d, err := o.driverFor(cp)
	if err != nil {
		return restored, err
	}
	if err := d.Test(ctx, o.Runner); err != nil {
		return restored, fmt.Errorf("the restored config fails its test, so it was not reloaded: %w", err)
	}
	targets := append(append([]Target(nil), cp.Baseline...), extra...)
	w := watchReload(targets)
	if o.oldGenerationLive {
		w = nil // the processes of the original config may stay: handshakes decide
	}
	if err := d.Reload(ctx, o.Runner); err != nil {
		return restored, fmt.Errorf("files restored, but: %w", err)
	}
	if err := cp.setState(StateRestored, reason); err != nil {
		return restored, err
	}
	ro := *o
	ro.ProbeTimeout = max(o.ProbeTimeout, defaultProbeTimeout)
	if err := ro.checkListener(ctx, d, targets, w); err != nil {
		return restored, fmt.Errorf("files restored and %s reloaded, but: %w", d.Kind, err)
	}
	return restored, nil
}

// driverFor is the checkpoint's driver with the caller's overrides.
func (o *Options) driverFor(cp *Checkpoint) (*server.Driver, error) {
	d := *cp.Driver
	if o.Driver == nil || o.Driver.Kind == d.Kind {
		if err := o.Overrides.Apply(&d); err != nil {
			return nil, err
		}
	}
	return &d, nil
}

// Recover restores every checkpoint a killed run left in progress and
// reloads its server. Apply and Rollback do this first by themselves.
func Recover(ctx context.Context, o Options) ([]string, error) {
	if err := o.validate(false); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.CheckpointDir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no run ever started here: nothing to recover
	}
	l, err := acquire(o.CheckpointDir)
	if err != nil {
		return nil, err
	}
	defer l.release()
	return recoverLocked(ctx, &o)
}

func recoverLocked(ctx context.Context, o *Options) ([]string, error) {
	dirs, err := listCheckpoints(o.CheckpointDir)
	if err != nil {
		return nil, err
	}
	var recovered []string
	for i := len(dirs) - 1; i >= 0; i-- { // newest first: undo in reverse order
		dir := dirs[i]
		if !inProgress(dir) {
			continue
		}
		cp, err := loadCheckpoint(dir)
		if err != nil {
			return recovered, fmt.Errorf("recover unfinished change: %w", err)
		}
		if cp == nil {
			// Killed before the manifest: no server file was touched.
			if err := os.RemoveAll(dir); err != nil {
				return recovered, fmt.Errorf("remove empty checkpoint: %w", err)
			}
			continue
		}
		o.emit(Event{Kind: Started, Step: StepRecover, Checkpoint: cp.Name(),
			Message: fmt.Sprintf("Recovering: a previous run stopped in the middle of checkpoint %s; restoring it", cp.Name())})
		if _, err := o.restoreAndReload(ctx, cp, "recovered an unfinished change", nil); err != nil {
			return recovered, fmt.Errorf("recover checkpoint %s: %w", cp.Dir, err)
		}
		o.emit(Event{Kind: Note, Step: StepRecover, Checkpoint: cp.Name(),
			Message: fmt.Sprintf("Recovered checkpoint %s and reloaded %s", cp.Name(), cp.Driver.Kind)})
		recovered = append(recovered, cp.Name())
	}
	return recovered, nil
}

// ErrNoCheckpoint is wrapped when there is nothing to roll back.
var ErrNoCheckpoint = errors.New("no applied change to roll back")

// ErrEditedSince is wrapped when a file changed after aopwizard wrote it.
var ErrEditedSince = errors.New("file changed since aopwizard wrote it")

// Rollback restores the newest finalised checkpoint (for o.Driver's server
// kind) and reloads. Each call undoes one more apply.
func Rollback(ctx context.Context, o Options) (*Result, error) {
	if err := o.validate(false); err != nil {
		return nil, err
	}
	// A missing directory is most likely a mistyped one: say so and create
	// nothing there (no lock file, no log). Bad input, not a failure.
	if fi, err := os.Stat(o.CheckpointDir); err != nil || !fi.IsDir() {
		why := fmt.Errorf("%w: %s does not exist", ErrNoCheckpoint, o.CheckpointDir)
		if err == nil {
			why = fmt.Errorf("%w: %s is not a directory", ErrNoCheckpoint, o.CheckpointDir)
		} else if !errors.Is(err, fs.ErrNotExist) {
			why = fmt.Errorf("%w: %w", ErrNoCheckpoint, err)
		}
		return nil, &server.Error{Err: why, Kind: server.RemedyStateDir, BadInput: true,
			Remedy: "check the checkpoint directory: it is the one the change was applied with"}
	}
	l, res, err := begin(ctx, &o)
	if l != nil {
		defer l.release()
	}
	if err != nil {
		return res, err
	}
	var kind render.Server
	if o.Driver != nil {
		kind = o.Driver.Kind
	}
	cp, err := lastFinalised(o.CheckpointDir, kind)
	if err != nil {
		return res, err
	}
	res.Checkpoint = cp.Name()
	if !o.Force {
		for _, f := range cp.Files {
			b, err := current(f.Path, f.Link)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return res, err
			}
			if err != nil || sum(b) != f.Written {
				return res, &server.Error{Err: fmt.Errorf("%w: %s; rolling back would discard that edit, so nothing was changed", ErrEditedSince, f.Path),
					Kind: server.RemedyForce, Remedy: "check it, then roll back anyway to discard the edit"}
			}
		}
	}
	o.emit(Event{Kind: Started, Step: StepRollback, Checkpoint: cp.Name(),
		Message: fmt.Sprintf("Rolling back checkpoint %s (%s, %s)", cp.Name(), cp.ID, cp.Created.Format(time.RFC3339))})
	// Marked in progress first: if this run is killed half-way, the next
	// run's recovery finishes the restore.
	if err := cp.setState(StateInProgress, ""); err != nil {
		return res, err
	}
	// The listener must show the baseline and what the caller expects.
	res.Restored, err = o.restoreAndReload(ctx, cp, "rolled back by the operator", o.Targets)
	if err != nil {
		return res, fmt.Errorf("rollback of %s: %w", cp.Name(), err)
	}
	o.emit(Event{Kind: Done, Step: StepRollback, Checkpoint: cp.Name(), Message: "Rolled back: " + strings.Join(res.Restored, ", ")})
	return res, nil
}

func lastFinalised(root string, kind render.Server) (*Checkpoint, error) {
	dirs, err := listCheckpoints(root)
	if err != nil {
		return nil, err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		cp, err := loadCheckpoint(dirs[i])
		if err != nil {
			return nil, err
		}
		if cp != nil && cp.State == StateFinalised && (kind == "" || cp.Driver.Kind == kind) {
			return cp, nil
		}
	}
	if kind == "" {
		return nil, fmt.Errorf("%w: %s holds no finalised checkpoint", ErrNoCheckpoint, root)
	}
	return nil, fmt.Errorf("%w: %s holds no finalised checkpoint for %s", ErrNoCheckpoint, root, kind)
}

// pending drops changes whose file already holds the content.
func pending(changes []Change) ([]Change, error) {
	var todo []Change
	seen := map[string]bool{}
	for _, c := range changes {
		path := c.Path
		if c.Link == "" {
			var err error
			if path, err = resolve(c.Path); err != nil {
				return nil, err
			}
		}
		if seen[path] {
			return nil, fmt.Errorf("apply: %s is changed twice", path)
		}
		seen[path] = true
		c.Path = path
		b, err := current(path, c.Link != "")
		if err == nil && string(b) == string(c.written()) {
			continue
		}
		if err := c.checkOriginal(); err != nil {
			return nil, err
		}
		if c.Link != "" {
			if _, lerr := os.Lstat(path); lerr == nil {
				return nil, fmt.Errorf("%s exists and is not a symlink to %s; move it away or enable the site by hand", path, c.Link)
			}
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		todo = append(todo, c)
	}
	return todo, nil
}

// resolve follows a symlink (Debian's sites-enabled links into
// sites-available): replacing the link with a file would silently detach it.
func resolve(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("%s is a dangling symlink: %w", path, err)
	}
	return real, nil
}

// missingDirs lists the directories MkdirAll(dir) would create, deepest
// first.
func missingDirs(dir string) ([]string, error) {
	var out []string
	for d := dir; ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		out = append(out, d)
		if filepath.Dir(d) == d {
			return out, nil
		}
	}
}

// writeNew writes one change atomically; an existing file keeps its mode
// and owner.
func writeNew(c Change) error {
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
		return err
	}
	if c.Link != "" {
		return os.Symlink(c.Link, c.Path)
	}
	fi, err := os.Stat(c.Path)
	if err != nil {
		mode := c.Mode
		if mode == 0 {
			mode = 0o644
		}
		return writeFile(c.Path, c.Content, mode.Perm(), os.Getuid(), os.Getgid())
	}
	uid, gid := owner(fi)
	return writeFile(c.Path, c.Content, fi.Mode().Perm(), uid, gid)
}

// discard removes a checkpoint that never got to touch a server file.
func discard(cp *Checkpoint) error {
	if err := os.RemoveAll(cp.Dir); err != nil {
		return fmt.Errorf("remove unused checkpoint: %w", err)
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// checkOriginal compares what the file holds now with what it held when
// the change was planned.
func (c Change) checkOriginal() error {
	if c.Original == "" {
		return nil
	}
	now, err := planned(c.Path, c.Link != "")
	if err != nil {
		return err
	}
	if now == c.Original {
		return nil
	}
	return &server.Error{Err: fmt.Errorf("%w: %s, so nothing was written", ErrPlanStale, c.Path),
		Kind: server.RemedyReplan, Remedy: "plan the change again to include that edit"}
}

// planned is the Original of path as it is now.
func planned(path string, link bool) (string, error) {
	if link {
		if _, err := os.Lstat(path); err == nil {
			return "symlink", nil
		}
		return Absent, nil
	}
	b, err := readConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Absent, nil
	}
	if err != nil {
		return "", err
	}
	return sum(b), nil
}
