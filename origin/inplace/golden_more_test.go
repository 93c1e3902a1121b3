package inplace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/origin/sites"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

func TestApacheGoldenAndConflicts(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("testdata/apache/shop.conf")
	file := filepath.Join(dir, "shop.conf")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	dump := "VirtualHost configuration:\n*:443 is a NameVirtualHost\n  default server example.test (" + file + ":2)\n  port 443 namevhost legacy.test (" + file + ":15)\n"
	c, err := sites.ParseApacheDump([]byte(dump), dir, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	hosts := c.Config().Lookup([]string{"www.example.test", "legacy.test"})
	for _, phase := range []render.Phase{render.Soft, render.Enforce} {
		p, err := PlanApache(c, Input{ID: "example.test", Phase: phase, CAFile: "/etc/ssl/aop/ca.pem", AccessLog: "/var/log/apache2/aop.log", Blocks: hosts[0].Blocks})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "apache-"+string(phase), dir, p.Edits[0].New)
		if len(p.Conflicts) != 0 || len(p.Warnings) != 2 {
			t.Errorf("conflicts %v, warnings %q: want the alias and the missing CustomLog warned about", p.Conflicts, p.Warnings)
		}
	}
	in := Input{ID: "example.test", Phase: render.Soft, CAFile: "/etc/ssl/aop/ca.pem", AccessLog: "/var/log/apache2/aop.log", Blocks: hosts[1].Blocks}
	p, err := PlanApache(c, in)
	if !errors.Is(err, ErrConflict) || len(p.Conflicts) != 2 || p.Conflicts[0].Text != "SSLVerifyClient optional" || p.Conflicts[0].Line != 19 {
		t.Fatalf("want the operator's SSLVerifyClient and SSLVerifyDepth as conflicts, got %v %+v", err, p)
	}
	in.Override = true
	p, err = PlanApache(c, in)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "apache-override", dir, p.Edits[0].New)
}

func TestHAProxyGoldenAndConflicts(t *testing.T) {
	lab := pkitest.New(t)
	dir := t.TempDir()
	src, _ := os.ReadFile("testdata/haproxy/haproxy.cfg")
	src = []byte(strings.ReplaceAll(string(src), "CERT", lab.Path(pkitest.ServerBundle)))
	file := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := sites.LoadHAProxy(file)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Config().Lookup([]string{"a.example.test"})[0]
	if !h.OK() || h.Blocks[0].Section != "frontend fe_main" || len(h.Blocks[0].ClientAuth) != 2 {
		t.Fatalf("discovery by the certificate's names: %+v", h)
	}
	in := Input{ID: "example.test", Phase: render.Soft, CAFile: "/etc/haproxy/aop-ca.pem", AccessLog: "/var/log/haproxy.log", Blocks: h.Blocks}
	p, err := PlanHAProxy(c, in)
	var texts []string
	for _, c := range p.Conflicts {
		texts = append(texts, fmt.Sprintf("%d:%s", c.Line, c.Text))
	}
	if got := strings.Join(texts, "|"); !errors.Is(err, ErrConflict) || got != "11:option httplog|10:verify optional|10:ca-file /etc/haproxy/old-ca.pem" {
		t.Fatalf("want the log format option and the bind line's verify and ca-file as conflicts, got %v %q", err, got)
	}
	in.Override = true
	for _, phase := range []render.Phase{render.Soft, render.Enforce} {
		in.Phase = phase
		p, err := PlanHAProxy(c, in)
		if err != nil {
			t.Fatal(err)
		}
		out := strings.ReplaceAll(string(p.Edits[0].New), lab.Path(pkitest.ServerBundle), "/etc/haproxy/site.pem")
		golden(t, "haproxy-"+string(phase), dir, []byte(out))
	}
}

// A virtual host without a CustomLog of its own writes the server-level
// logs; the evidence CustomLog would stop that, so those lines are
// repeated inside the block (and no warning is needed).
func TestApacheRepeatsServerLogs(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("testdata/apache/shop.conf")
	files := map[string]string{
		"shop.conf":             string(src),
		"apache2.conf":          "ServerRoot " + dir + "\nIncludeOptional conf-enabled/*.conf\n<VirtualHost *:80>\n    CustomLog /var/log/apache2/plain.log combined\n</VirtualHost>\n",
		"conf-enabled/log.conf": "<IfModule log_config_module>\nCustomLog ${APACHE_LOG_DIR}/other_vhosts_access.log vhost_combined\n</IfModule>\n",
	}
	servertest.WriteFiles(t, dir, files)
	logs, ok := sites.ApacheServerLogs(filepath.Join(dir, "apache2.conf"), dir, os.ReadFile)
	want := "CustomLog ${APACHE_LOG_DIR}/other_vhosts_access.log vhost_combined"
	if !ok || len(logs) != 1 || logs[0].Text != want || logs[0].Line != 2 {
		t.Fatalf("server logs: %+v %v; want only the conf-enabled line, not the vhost's", logs, ok)
	}
	file := filepath.Join(dir, "shop.conf")
	c, err := sites.ParseApacheDump([]byte("*:443 is a NameVirtualHost\n  default server example.test ("+file+":2)\n"), dir, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	c.ServerLogs, c.ServerLogsRead = logs, ok
	hosts := c.Config().Lookup([]string{"www.example.test"})
	p, err := PlanApache(c, Input{ID: "example.test", Phase: render.Soft, CAFile: "/etc/ssl/aop/ca.pem", AccessLog: "/var/log/apache2/aop.log", Blocks: hosts[0].Blocks})
	if err != nil {
		t.Fatal(err)
	}
	got := string(p.Edits[0].New)
	if !strings.Contains(got, "\t\t# repeated from the server level ("+filepath.Join(dir, "conf-enabled/log.conf")+":2): a CustomLog here replaces the inherited ones\n\t\t"+want+"\n\t\t# END aopwizard example.test/1") {
		t.Errorf("the server-level CustomLog is not repeated at the end of the block:\n%s", got)
	}
	for _, w := range p.Warnings {
		if strings.Contains(w, "no CustomLog") {
			t.Errorf("warned although the logs were repeated: %q", w)
		}
	}
}
