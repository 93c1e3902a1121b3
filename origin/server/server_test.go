package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// The commands match origin-servers.md §6 and Debian's units, and the
// overrides replace them.
func TestDriverCommands(t *testing.T) {
	t.Parallel()
	pid := filepath.Join(t.TempDir(), "haproxy.pid")
	if err := os.WriteFile(pid, []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := server.Debian(render.HAProxy)
	d.Systemd, d.PIDFile = false, pid
	cases := []struct {
		name string
		d    func() *server.Driver
		test string
		rel  string
	}{
		{"nginx", func() *server.Driver { d, _ := server.Debian(render.Nginx); d.Systemd = false; return d },
			"/usr/sbin/nginx -t -q -c /etc/nginx/nginx.conf", "/usr/sbin/nginx -c /etc/nginx/nginx.conf -s reload"},
		{"nginx systemd", func() *server.Driver { d, _ := server.Debian(render.Nginx); d.Systemd = true; return d },
			"/usr/sbin/nginx -t -q -c /etc/nginx/nginx.conf", "systemctl reload nginx"},
		{"apache debian", func() *server.Driver { d, _ := server.Debian(render.Apache); d.Systemd = false; return d },
			"/usr/sbin/apache2ctl configtest", "/usr/sbin/apache2ctl graceful"},
		{"apache own config", func() *server.Driver {
			d, _ := server.Debian(render.Apache)
			d.Systemd = false
			d.SetConfigPath("/srv/a.conf")
			return d
		}, "/usr/sbin/apache2 -t -f /srv/a.conf", "/usr/sbin/apache2 -f /srv/a.conf -k graceful"},
		{"haproxy", func() *server.Driver { return d }, "/usr/sbin/haproxy -c -q -f /etc/haproxy/haproxy.cfg", "kill -USR2 4242"},
		{"overrides", func() *server.Driver {
			d, _ := server.Debian(render.Nginx)
			d.TestCmd, d.ReloadCmd = "docker exec web nginx -t", "docker exec web nginx -s reload"
			return d
		}, "/bin/sh -c 'docker exec web nginx -t'", "/bin/sh -c 'docker exec web nginx -s reload'"},
	}
	for _, c := range cases {
		d := c.d()
		rel, err := d.ReloadArgv()
		if err != nil {
			t.Fatal(err)
		}
		if got := server.Quote(d.TestArgv()); got != c.test {
			t.Errorf("%s test: %q, want %q", c.name, got, c.test)
		}
		if got := server.Quote(rel); got != c.rel {
			t.Errorf("%s reload: %q, want %q", c.name, got, c.rel)
		}
	}
	d.PIDFile = filepath.Join(t.TempDir(), "missing.pid")
	if _, err := d.ReloadArgv(); err == nil || !strings.Contains(err.Error(), "--reload-cmd") {
		t.Errorf("missing pid file: %v; want advice to pass --reload-cmd", err)
	}
}

// The runner shows each command as "$ cmd" with its output indented, and a
// failure carries the output, where servers say what is wrong.
func TestExecRunnerShowsAndRecords(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	r := server.NewExecRunner(&out)
	_, err := r.Run(context.Background(), "/bin/sh", "-c", "echo bad directive >&2; exit 1")
	if err == nil || !strings.Contains(err.Error(), "bad directive") {
		t.Fatalf("error %v does not carry the output", err)
	}
	if want := "$ /bin/sh -c 'echo bad directive >&2; exit 1'\n  bad directive\n"; out.String() != want {
		t.Fatalf("shown %q, want %q", out.String(), want)
	}
	if recs := r.Records(); len(recs) != 1 || recs[0].Err == nil {
		t.Fatalf("records %+v", recs)
	}
}
