package apply_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
