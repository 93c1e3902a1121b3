package ansible

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/aopwizard/aopwizard/steps"
)

func testRollout(t *testing.T, mode steps.Mode) *steps.Rollout {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"a/ca.pem", "b/ca.pem"} {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("CA "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := steps.NewRollout("example.com-1", steps.Inputs{
		Zone: "example.com", Mode: mode, Hostnames: []string{"www.example.com"}, Server: "nginx",
		Origin: steps.OriginInputs{Listen: "10.0.0.1:8443", ReloadCmd: "echo {{ lookup('pipe', 'id') }}"},
	}, time.Now())
	r.Certificates = []steps.CertRecord{
		{CAFile: filepath.Join(dir, "a/ca.pem"), CertFile: "/c/a.pem", KeyFile: "/c/a.key", Hostnames: []string{"a.example.com"}},
		{CAFile: filepath.Join(dir, "b/ca.pem"), Hostnames: []string{"b.example.com"}},
	}
	return r
}

func find(files []File, p string) []byte {
	for _, f := range files {
		if f.Path == p {
			return f.Content
		}
	}
	return nil
}

// The play runs one host at a time and stops at the first failure; every
// rollout value reaches Ansible as !unsafe data, never as a template.
func TestExportPlayAndVars(t *testing.T) {
	files, err := Export([]*steps.Rollout{testRollout(t, steps.ModeHostname)}, "origins")
	if err != nil {
		t.Fatal(err)
	}
	var plays []map[string]any
	if err := yaml.Unmarshal(find(files, "site.yml"), &plays); err != nil || len(plays) != 1 {
		t.Fatalf("site.yml: %v %v", plays, err)
	}
	p := plays[0]
	if p["hosts"] != "origins" || p["serial"] != 1 || p["max_fail_percentage"] != 0 {
		t.Errorf("play: %v", p)
	}
	vars := string(find(files, "vars/example.com-1.yml"))
	for _, want := range []string{
		"reload-cmd: !unsafe 'echo {{ lookup(''pipe'', ''id'') }}'",
		"a.example.com: '{{ aopwizard_etc_dir }}/{{ aopwizard_rollout }}/1-ca.pem'",
		"b.example.com: '{{ aopwizard_etc_dir }}/{{ aopwizard_rollout }}/2-ca.pem'",
		"target: !unsafe 'managed'", "aopwizard_listen_port: \"8443\"",
		"- !unsafe '--cert'\n    - !unsafe '/c/a.pem'",
	} {
		if !strings.Contains(vars, want) {
			t.Errorf("vars lack %q:\n%s", want, vars)
		}
	}
	if strings.Contains(vars, "phase") {
		t.Errorf("the rollout's vars name a phase: each tag sets its own\n%s", vars)
	}
	if string(find(files, "roles/aopwizard_origin/files/example.com-1/2-ca.pem")) != "CA b/ca.pem" {
		t.Errorf("CA bundle b not copied into the role")
	}
	var tasks []map[string]any
	if err := yaml.Unmarshal(find(files, "roles/aopwizard_origin/tasks/main.yml"), &tasks); err != nil {
		t.Fatal(err)
	}
	var enforce int
	for _, task := range tasks {
		if strings.Contains(task["name"].(string), "enforce") {
			enforce++
			if tags := task["tags"].([]any); len(tags) != 2 || tags[1] != "never" {
				t.Errorf("%s: tags %v: enforce must run only when asked for", task["name"], tags)
			}
		}
	}
	if enforce != 3 {
		t.Errorf("want 3 enforce tasks, got %d", enforce)
	}
}

func TestExportBadInput(t *testing.T) {
	r := testRollout(t, steps.ModeZone)
	for _, g := range []string{"", "web servers", "1st", "a-b"} {
		if _, err := Export([]*steps.Rollout{r}, g); !errors.Is(err, ErrGroup) {
			t.Errorf("group %q: %v", g, err)
		}
	}
	r.Certificates[0].CAFile = filepath.Join(t.TempDir(), "gone.pem")
	if _, err := Export([]*steps.Rollout{r}, "origins"); err == nil || !strings.Contains(err.Error(), "rollout example.com-1: read its CA bundle") {
		t.Errorf("missing CA bundle: %v", err)
	}
	r.Inputs.Server = ""
	if _, err := Export([]*steps.Rollout{r}, "origins"); err == nil || !strings.Contains(err.Error(), "names no origin server kind") {
		t.Errorf("no server: %v", err)
	}
}
