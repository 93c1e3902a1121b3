package inplace

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/sites"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture copies testdata/<name> into a temp dir and returns the dir and
// the nginx -T dump of it (main config first, then the includes in name
// order, as nginx prints them).
func nginxFixture(t *testing.T, name string) (string, *sites.NginxConfig) {
	t.Helper()
	src := filepath.Join("testdata", name)
	dir := t.TempDir()
	var dump bytes.Buffer
	var files []string
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if rel == "nginx.conf" {
			files = append([]string{out}, files...)
		} else {
			files = append(files, out)
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		dump.WriteString("# configuration file " + f + ":\n")
		dump.Write(data)
		dump.WriteString("\n")
	}
	d, err := sites.ParseNginxDump(dump.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	c, err := sites.ParseNginxConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	return dir, c
}

// golden compares got (with dir replaced by /etc/nginx) with a golden file.
func golden(t *testing.T, name string, dir string, got []byte) {
	t.Helper()
	got = bytes.ReplaceAll(got, []byte(dir), []byte("/etc/nginx"))
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

func lookup(t *testing.T, c *sites.NginxConfig, host string) []sites.Found {
	t.Helper()
	h := c.Config().Lookup([]string{host})[0]
	if len(h.Blocks) == 0 {
		t.Fatalf("%s: no blocks: %+v", host, h)
	}
	return h.Blocks
}

func TestNginxGolden(t *testing.T) {
	for _, phase := range []render.Phase{render.Soft, render.Enforce} {
		t.Run(string(phase), func(t *testing.T) {
			dir, c := nginxFixture(t, "nginx")
			in := Input{ID: "example.test", Phase: phase, Mode: render.Hostname, CAFile: "/etc/ssl/aop/example-ca.pem", AccessLog: "/var/log/nginx/aopwizard-example.test.log",
				Blocks: lookup(t, c, "example.test")}
			p, err := PlanNginx(c, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Edits) != 2 {
				t.Fatalf("want edits of the site and nginx.conf, got %d", len(p.Edits))
			}
			for _, e := range p.Edits {
				golden(t, string(phase)+"-"+filepath.Base(e.Path), dir, e.New)
				// Everything outside the markers is kept byte for byte.
				if !keptOutside(t, e.Old, e.New) {
					t.Errorf("%s: outside the markers the file changed", e.Path)
				}
			}
			if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "also serves www.example.test") {
				t.Errorf("warnings: %q", p.Warnings)
			}
		})
	}
}

// keptOutside reports whether old is new without its marked regions. A
// region added inside a one-line block also brought a newline before it
// and the block's indent after it, so both readings are tried per region.
func keptOutside(t *testing.T, old, new []byte) bool {
	t.Helper()
	sp, err := markedSpans(new, "example.test")
	if err != nil {
		t.Fatal(err)
	}
	var try func(i, last int, rest []byte) bool
	try = func(i, last int, rest []byte) bool {
		if i == len(sp) {
			return bytes.Equal(rest, new[last:])
		}
		s := sp[i]
		if seg := new[last:s.start]; bytes.HasPrefix(rest, seg) && try(i+1, s.end, rest[len(seg):]) {
			return true
		}
		if s.start == 0 || new[s.start-1] != '\n' {
			return false
		}
		seg := new[last : s.start-1]
		end := s.end
		for end < len(new) && (new[end] == ' ' || new[end] == '\t') {
			end++
		}
		return bytes.HasPrefix(rest, seg) && try(i+1, end, rest[len(seg):])
	}
	return try(0, 0, old)
}

func TestNginxIdempotentAndPhaseSwitch(t *testing.T) {
	dir, c := nginxFixture(t, "nginx")
	in := Input{ID: "example.test", Phase: render.Soft, CAFile: "/etc/ssl/aop/ca.pem", AccessLog: "/var/log/aop.log", Blocks: lookup(t, c, "example.test")}
	p, err := PlanNginx(c, in)
	if err != nil {
		t.Fatal(err)
	}
	// Write the soft phase, read it again as nginx would, plan enforce.
	var dump bytes.Buffer
	for _, f := range c.Files {
		data := f.Content
		for _, e := range p.Edits {
			if e.Path == f.Path {
				data = e.New
				if err := os.WriteFile(f.Path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		dump.WriteString("# configuration file " + f.Path + ":\n")
		dump.Write(data)
		dump.WriteString("\n")
	}
	d, _ := sites.ParseNginxDump(dump.Bytes())
	c2, err := sites.ParseNginxConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	in.Blocks = lookup(t, c2, "example.test")
	again, err := PlanNginx(c2, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Edits) != 0 {
		t.Errorf("planning the same phase twice changes files:\n%s", lineDiff(again.Edits[0].Old, again.Edits[0].New))
	}
	in.Phase = render.Enforce
	enf, err := PlanNginx(c2, in)
	if err != nil {
		t.Fatalf("soft -> enforce: %v", err)
	}
	if len(enf.Conflicts) != 0 {
		t.Errorf("our own soft directives count as conflicts: %v", enf.Conflicts)
	}
	for _, e := range enf.Edits {
		if strings.Count(string(e.New), "# BEGIN aopwizard") != strings.Count(string(e.Old), "# BEGIN aopwizard") {
			t.Errorf("%s: the phase switch added a second block instead of replacing the first", e.Path)
		}
		if strings.Contains(string(e.New), "optional_no_ca") {
			t.Errorf("%s: soft directives left after switching to enforce", e.Path)
		}
	}
	_ = dir
}

func TestNginxConflicts(t *testing.T) {
	dir, c := nginxFixture(t, "nginx")
	in := Input{ID: "example.test", Phase: render.Soft, CAFile: "/etc/ssl/aop/ca.pem", AccessLog: "/var/log/aop.log", Blocks: lookup(t, c, "conflict.test")}
	p, err := PlanNginx(c, in)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
	var texts []string
	for _, cf := range p.Conflicts {
		texts = append(texts, cf.Text)
	}
	if got := strings.Join(texts, "|"); got != "ssl_verify_client on;|ssl_client_certificate /etc/ssl/old-ca.pem;|access_log off;" {
		t.Errorf("conflicts: %q", got)
	}
	if len(p.Edits) != 0 {
		t.Errorf("a conflicting plan must change nothing")
	}
	in.Override = true
	p, err = PlanNginx(c, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Edits {
		if filepath.Base(e.Path) == "conflict" {
			golden(t, "override-conflict", dir, e.New)
		}
	}
}

func TestNginxRefusesLooseAndBadPaths(t *testing.T) {
	_, c := nginxFixture(t, "nginx")
	blocks := lookup(t, c, "example.test")
	loose := append([]sites.Found(nil), blocks...)
	loose[0].Match = sites.Wildcard
	for name, in := range map[string]Input{
		"wildcard":      {ID: "x", Phase: render.Soft, CAFile: "/ca.pem", AccessLog: "/log", Blocks: loose},
		"quote in path": {ID: "x", Phase: render.Soft, CAFile: `/ca".pem`, AccessLog: "/log", Blocks: blocks},
		"variable":      {ID: "x", Phase: render.Soft, CAFile: "/ca.pem", AccessLog: "/log/$host", Blocks: blocks},
		"relative":      {ID: "x", Phase: render.Soft, CAFile: "ca.pem", AccessLog: "/log", Blocks: blocks},
	} {
		if p, err := PlanNginx(c, in); err == nil {
			t.Errorf("%s: accepted: %+v", name, p)
		}
	}
}

func lineDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "-"+x, "+"+y)
		}
	}
	return strings.Join(out, "\n")
}

func TestNginxHostnameModeCAs(t *testing.T) {
	_, c := nginxFixture(t, "nginx")
	var blocks []sites.Found
	for _, h := range c.Config().Lookup([]string{"example.test", "www.example.test", "conflict.test"}) {
		blocks = append(blocks, h.Blocks...)
	}
	in := Input{ID: "x", Phase: render.Soft, Mode: render.Hostname, AccessLog: "/log", Override: true, Blocks: blocks,
		HostCAFiles: map[string]string{"example.test": "/ca-a.pem", "www.example.test": "/ca-b.pem", "conflict.test": "/ca-c.pem"}}
	if _, err := PlanNginx(c, in); err == nil || !strings.Contains(err.Error(), "trust different CAs") {
		t.Fatalf("one server block for hostnames with different CAs: %v", err)
	}
	in.HostCAFiles["www.example.test"] = "/ca-a.pem"
	p, err := PlanNginx(c, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Edits {
		switch filepath.Base(e.Path) {
		case "example":
			if strings.Count(string(e.New), `ssl_client_certificate "/ca-a.pem";`) != 2 {
				t.Errorf("both example.test blocks trust CA a:\n%s", e.New)
			}
		case "conflict":
			if !strings.Contains(string(e.New), `ssl_client_certificate "/ca-c.pem";`) {
				t.Errorf("conflict.test trusts its own CA:\n%s", e.New)
			}
		}
	}
}

// A conflicting directive in a shared include cannot be commented out for
// one block, and an http-level one is overridden for the block only.
func TestNginxConflictInInclude(t *testing.T) {
	_, c := nginxFixture(t, "nginx-snippet")
	in := Input{ID: "x", Phase: render.Soft, CAFile: "/ca.pem", AccessLog: "/log", Override: true, Blocks: lookup(t, c, "a.test")}
	p, err := PlanNginx(c, in)
	if !errors.Is(err, ErrConflict) || p == nil || len(p.Edits) != 0 || !strings.Contains(err.Error(), "clientauth.conf:1") {
		t.Fatalf("want a refused conflict naming the snippet, got %v %+v", err, p)
	}
	in.Blocks = lookup(t, c, "b.test")
	p, err = PlanNginx(c, in)
	if err != nil {
		t.Fatalf("an http-level setting is overridden, not edited: %v", err)
	}
	if len(p.Conflicts) != 1 || !p.Conflicts[0].Inherited || p.Conflicts[0].Text != "ssl_verify_client optional;" {
		t.Errorf("conflicts: %+v", p.Conflicts)
	}
}
