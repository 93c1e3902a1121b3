package steps

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testRollout(id string) *Rollout {
	in := Inputs{Zone: "example.test", Mode: ModeZone, Server: "nginx", OriginConfig: OriginApply, CertSource: CertGenerate}
	return NewRollout(id, in, time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC))
}

func TestStoreCreateOpenSaveAndModes(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "state")}
	h, err := s.Create(testRollout("r1"))
	if err != nil {
		t.Fatal(err)
	}
	h.R.Outcome = "x"
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open("r1"); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("a second run on a locked rollout: got %v, want ErrBusy naming the holder", err)
	}
	if !s.Busy("r1") {
		t.Error("Busy says nobody holds a locked rollout")
	}
	h.Close()
	if s.Busy("r1") {
		t.Error("Busy after Close")
	}
	h2, err := s.Open("r1")
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if h2.R.Outcome != "x" || h2.R.SchemaVersion != SchemaVersion {
		t.Fatalf("reloaded rollout lost data: %+v", h2.R)
	}
	for path, want := range map[string]os.FileMode{s.dir(): 0o700, s.path("r1"): 0o600, s.lockPath("r1"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %o, want %o", path, got, want)
		}
	}
	if _, err := s.Open("../etc/passwd"); err == nil {
		t.Fatal("an id with a slash was accepted")
	}
	if _, err := s.Open("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing rollout: %v", err)
	}
}

// A newer schema or a corrupt file is refused with a clear error and never
// overwritten.
func TestStoreRefusesNewerAndCorruptFilesAndLeavesThem(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	h, err := s.Create(testRollout("good"))
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	newer, _ := json.Marshal(map[string]any{"schema_version": SchemaVersion + 1, "id": "newer", "steps": []any{}})
	cases := map[string]struct {
		data []byte
		want error
		says string
	}{
		"newer":     {newer, ErrNewer, "newer aopwizard"},
		"truncated": {[]byte(`{"schema_version":1,"id":"trunc`), ErrCorrupt, "left untouched"},
		"noversion": {[]byte(`{"id":"noversion"}`), ErrCorrupt, "no schema_version"},
		"empty":     {nil, ErrCorrupt, "left untouched"},
		"wrongid":   {[]byte(`{"schema_version":1,"id":"other","steps":[{"name":"connect","status":"pending"}]}`), ErrCorrupt, "does not describe"},
	}
	for id, c := range cases {
		if err := os.WriteFile(s.path(id), c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Open(id)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: Open = %v, want %v saying %q", id, err, c.want, c.says)
		}
		got, _ := os.ReadFile(s.path(id))
		if string(got) != string(c.data) {
			t.Errorf("%s: the file was changed", id)
		}
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(cases)+1 || list[0].ID != "good" || list[0].Rollout == nil {
		t.Fatalf("List should show the good rollout first and every bad one with its error: %+v", list)
	}
	for _, e := range list[1:] {
		if e.Err == nil {
			t.Errorf("%s listed without its error", e.ID)
		}
	}
}

func TestStoreLatest(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if _, err := s.Latest(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty store: %v", err)
	}
	for _, id := range []string{"a", "b"} {
		h, err := s.Create(testRollout(id))
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	if _, err := s.Latest(); !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "a, b") && !strings.Contains(err.Error(), "b, a") {
		t.Fatalf("two open rollouts: %v", err)
	}
}

func TestEventHistoryIsBounded(t *testing.T) {
	r := testRollout("ev")
	for i := 0; i < MaxEvents+20; i++ {
		r.record(Event{Message: "m"})
	}
	if len(r.Events) != MaxEvents {
		t.Fatalf("%d events kept, want %d", len(r.Events), MaxEvents)
	}
}
