package apply_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gofrs/flock"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// noopDriver tests and reloads with `true`: for behaviour that does not
// depend on a server (layout, locking, bookkeeping).
func noopDriver(kind render.Server, conf string) *server.Driver {
	return &server.Driver{Kind: kind, Binary: "/bin/true", ConfigPath: conf, TestCmd: "true", ReloadCmd: "true"}
}

func noopOpts(t *testing.T, d *server.Driver) apply.Options {
	return apply.Options{Driver: d, Runner: server.NewExecRunner(nil), CheckpointDir: filepath.Join(t.TempDir(), "cp"), ID: id}
}

// On Debian's Apache layout the site goes to sites-available and is
// enabled with a sites-enabled symlink, like a2ensite; rollback removes both.
func TestOriginApplyApacheSiteIsEnabledAndRolledBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{"sites-available", "sites-enabled"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "apache2.conf")
	if err := os.WriteFile(conf, []byte("IncludeOptional sites-enabled/*.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(render.Spec{ID: id, Server: render.Apache, Phase: render.Soft, Mode: render.Zone, ConfDir: dir,
		ServerCertFile: "/c.pem", ServerKeyFile: "/k.pem", CAFile: "/ca.pem", AccessLog: "/a.log"})
	if err != nil {
		t.Fatal(err)
	}
	d := noopDriver(render.Apache, conf)
	changes, err := apply.Changes(out, id, d)
	if err != nil {
		t.Fatal(err)
	}
	o := noopOpts(t, d)
	if _, err := apply.Apply(context.Background(), o, changes); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "sites-enabled", "aopwizard-"+id+".conf")
	if target, err := os.Readlink(link); err != nil || target != "../sites-available/aopwizard-"+id+".conf" {
		t.Fatalf("site not enabled: %q, %v", target, err)
	}
	if b, err := os.ReadFile(link); err != nil || !strings.Contains(string(b), "SSLVerifyClient optional_no_ca") {
		t.Fatalf("enabled site does not hold the rendered vhost: %v", err)
	}
	if _, err := apply.Rollback(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, filepath.Join(dir, "sites-available", "aopwizard-"+id+".conf")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after rollback (%v)", p, err)
		}
	}
}

// A second run while one holds the lock fails at once, names the holder,
// and changes nothing; the lock file itself is never removed.
func TestOriginApplyLockContention(t *testing.T) {
	t.Parallel()
	conf := filepath.Join(t.TempDir(), "nginx.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o := noopOpts(t, noopDriver(render.Nginx, conf))
	if err := os.MkdirAll(o.CheckpointDir, 0o700); err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(o.CheckpointDir, apply.LockName)
	held := flock.New(lockPath)
	if ok, err := held.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock: %v %v", ok, err)
	}
	if err := os.WriteFile(lockPath, []byte("4242\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := apply.Apply(context.Background(), o, []apply.Change{{Path: conf, Content: []byte("x\n")}})
	if !errors.Is(err, apply.ErrLocked) || !strings.Contains(err.Error(), "pid 4242") {
		t.Fatalf("Apply under a held lock: %v; want ErrLocked naming pid 4242", err)
	}
	if b, err := os.ReadFile(conf); err != nil || len(b) != 0 {
		t.Fatalf("Apply wrote a file without the lock: %q, %v", b, err)
	}
	held.Unlock()
	if _, err := apply.Apply(context.Background(), o, []apply.Change{{Path: conf, Content: []byte("x\n")}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(lockPath)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file after a run: %q, %v; want it kept, holding our pid", b, err)
	}
}

// The hand-written diff agrees with diff(1).
func TestUnifiedDiffMatchesDiffU(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff not installed")
	}
	old := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n"
	cases := map[string]string{
		"middle":     "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\nl\nm\n",
		"two hunks":  "A\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nM\nn\n",
		"insert":     "a\nb\nc\nx\ny\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n",
		"delete all": "",
		"no newline": "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm",
	}
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	os.WriteFile(a, []byte(old), 0o644)
	for name, new := range cases {
		b := filepath.Join(dir, "b")
		os.WriteFile(b, []byte(new), 0o644)
		want, _ := exec.Command("diff", "-u", "--label", "a", "--label", "b", a, b).Output()
		if got := apply.UnifiedDiff("a", "b", []byte(old), []byte(new)); got != string(want) {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", name, got, want)
		}
	}
	if d := apply.UnifiedDiff("a", "b", []byte(old), []byte(old)); d != "" {
		t.Errorf("equal files give %q", d)
	}
}

// A plan records what each file held; a file edited between planning and
// Apply makes Apply refuse with ErrPlanStale and a re-plan remedy, writing
// nothing (not even a checkpoint).
func TestOriginApplyRefusesAStalePlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(conf, []byte("global\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(render.Spec{ID: id, Server: render.HAProxy, Phase: render.Soft, Mode: render.Zone, ConfDir: dir,
		ServerCertFile: "/c.pem", CAFile: "/ca.pem", AccessLog: "/a.log"})
	if err != nil {
		t.Fatal(err)
	}
	d := noopDriver(render.HAProxy, conf)
	changes, err := apply.Changes(out, id, d)
	if err != nil {
		t.Fatal(err)
	}
	edited := []byte("global\n    maxconn 100 # edited after planning\n")
	if err := os.WriteFile(conf, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	o := noopOpts(t, d)
	_, err = apply.Apply(context.Background(), o, changes)
	var se *server.Error
	if !errors.Is(err, apply.ErrPlanStale) || !errors.As(err, &se) || se.Kind != server.RemedyReplan || !strings.Contains(err.Error(), conf) {
		t.Fatalf("Apply of a stale plan: %v; want ErrPlanStale naming %s with the re-plan remedy", err, conf)
	}
	if b, _ := os.ReadFile(conf); string(b) != string(edited) {
		t.Fatalf("the edit was overwritten:\n%s", b)
	}
	if entries, _ := os.ReadDir(o.CheckpointDir); len(entries) > 1 { // the lock file only
		t.Fatalf("a stale plan left checkpoints: %v", entries)
	}
	// Planned afresh, it applies and keeps the edit outside the block.
	if changes, err = apply.Changes(out, id, d); err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Apply(context.Background(), o, changes); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), "edited after planning") {
		t.Fatalf("the re-planned apply lost the edit:\n%s", b)
	}
}

// Apply reports its progress as typed events, every command with its
// output; Event.Text gives the lines the CLI prints.
func TestOriginApplyReportsEvents(t *testing.T) {
	t.Parallel()
	conf := filepath.Join(t.TempDir(), "nginx.conf")
	if err := os.WriteFile(conf, []byte("events {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := noopDriver(render.Nginx, conf)
	d.TestCmd = "echo syntax is ok"
	o := noopOpts(t, d)
	var events []apply.Event
	o.Events = func(ev apply.Event) { events = append(events, ev) }
	if _, err := apply.Apply(context.Background(), o, []apply.Change{{Path: conf, Content: []byte("events { }\n")}}); err != nil {
		t.Fatal(err)
	}
	var kinds []apply.EventKind
	var text strings.Builder
	for _, ev := range events {
		kinds = append(kinds, ev.Kind)
		text.WriteString(ev.Text())
	}
	want := []apply.EventKind{
		apply.Started, apply.CommandStarted, apply.CommandRun, // test the current config
		apply.CheckpointSaved, apply.FileWritten,
		apply.Started, apply.CommandStarted, apply.CommandRun, // test the new one
		apply.Started, apply.CommandStarted, apply.CommandRun, // reload
		apply.Done,
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("event kinds %v, want %v\n%s", kinds, want, text.String())
	}
	if ev := events[2]; ev.Command != "/bin/sh -c 'echo syntax is ok'" || ev.Output != "syntax is ok\n" || ev.Err != nil || ev.Step != apply.StepTestCurrent {
		t.Errorf("command event %+v", ev)
	}
	if ev := events[10]; ev.Kind != apply.CommandRun || ev.Command != "/bin/sh -c true" || ev.Step != apply.StepReload {
		t.Errorf("reload event %+v", ev)
	}
	if ev := events[4]; ev.File != conf || ev.Step != apply.StepWrite {
		t.Errorf("write event %+v", ev)
	}
	for _, line := range []string{"$ /bin/sh -c 'echo syntax is ok'\n  syntax is ok\n", "Wrote " + conf + "\n", "Applied: nginx serves the new config"} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("text log lacks %q:\n%s", line, text.String())
		}
	}
}

// Rollback from a checkpoint dir that does not exist says so, as bad
// input, and creates nothing there: it is most likely a typo.
func TestOriginRollbackFromAMissingDirCreatesNothing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "no-such-dir")
	o := apply.Options{CheckpointDir: dir}
	_, err := apply.Rollback(context.Background(), o)
	var se *server.Error
	if !errors.Is(err, apply.ErrNoCheckpoint) || !errors.As(err, &se) || !se.BadInput || se.Kind != server.RemedyStateDir ||
		!strings.Contains(err.Error(), dir+" does not exist") {
		t.Fatalf("Rollback: %v; want bad input naming %s", err, dir)
	}
	if recovered, err := apply.Recover(context.Background(), o); err != nil || len(recovered) != 0 {
		t.Fatalf("Recover: %v, %v", recovered, err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s was created: %v", dir, err)
	}
}

// A main config or binary that cannot be right is bad input, reported
// before any command runs, with a remedy and no command-line wording.
func TestOriginApplyChecksTheDriverFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		d    func() *server.Driver
		kind server.RemedyKind
		want string
	}{
		{"missing config", func() *server.Driver { d := noopDriver(render.Nginx, filepath.Join(dir, "nope.conf")); return d },
			server.RemedyServerConfig, "nope.conf: no such file"},
		{"directory as config", func() *server.Driver { return noopDriver(render.Nginx, dir) },
			server.RemedyServerConfig, "not a regular file (it is a directory)"},
		{"missing binary", func() *server.Driver {
			d := noopDriver(render.Nginx, conf)
			d.Binary, d.TestCmd = filepath.Join(dir, "nginx"), ""
			return d
		}, server.RemedyServerBinary, "no such file"},
	}
	for _, c := range cases {
		o := noopOpts(t, c.d())
		_, err := apply.Apply(context.Background(), o, []apply.Change{{Path: conf, Content: []byte("x\n")}})
		var se *server.Error
		if !errors.As(err, &se) || !se.BadInput || se.Kind != c.kind || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "--") {
			t.Errorf("%s: %v; want bad input %q with remedy %s, no flags", c.name, err, c.want, c.kind)
		}
		if _, err := os.Stat(o.CheckpointDir); !os.IsNotExist(err) {
			t.Errorf("%s: the checkpoint dir was created", c.name)
		}
	}
}

// The state directory is one rule for every command.
func TestDefaultStateDir(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		env  map[string]string
		euid int
		home string
		want string
	}{
		{map[string]string{"AOPWIZARD_STATE_DIR": "/srv/aop", "XDG_STATE_HOME": "/x"}, 0, "/root", "/srv/aop"},
		{map[string]string{"XDG_STATE_HOME": "/x"}, 0, "/root", "/var/lib/aopwizard"},
		{map[string]string{"XDG_STATE_HOME": "/x"}, 1000, "/home/u", "/x/aopwizard"},
		{nil, 1000, "/home/u", "/home/u/.local/state/aopwizard"},
		{nil, 1000, "", ""},
	}
	for _, c := range cases {
		if got := apply.DefaultStateDir(env(c.env), c.euid, c.home); got != c.want {
			t.Errorf("DefaultStateDir(%v, %d, %q) = %q, want %q", c.env, c.euid, c.home, got, c.want)
		}
	}
	if got := apply.CheckpointsIn("/var/lib/aopwizard"); got != "/var/lib/aopwizard/checkpoints" {
		t.Errorf("CheckpointsIn = %q", got)
	}
}

// Files apply reads are capped and must be regular: a FIFO where a config
// is expected is refused at once instead of blocking, a huge file with the
// limit named.
func TestOriginApplyReadsOnlyBoundedRegularFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "haproxy.cfg")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(render.Spec{ID: id, Server: render.HAProxy, Phase: render.Soft, Mode: render.Zone, ConfDir: dir,
		ServerCertFile: "/c.pem", CAFile: "/ca.pem", AccessLog: "/a.log"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Changes(out, id, noopDriver(render.HAProxy, fifo)); !errors.Is(err, server.ErrNotRegular) || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("Changes on a FIFO: %v; want ErrNotRegular", err)
	}
	big := filepath.Join(dir, "big.cfg")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(server.MaxConfigFile + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = apply.Changes(out, id, noopDriver(render.HAProxy, big))
	if !errors.Is(err, server.ErrTooLarge) || !strings.Contains(err.Error(), "more than 16 MiB") {
		t.Fatalf("Changes on a 16 MiB+1 config: %v; want ErrTooLarge naming the limit", err)
	}
}
