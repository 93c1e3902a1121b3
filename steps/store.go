package steps

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/google/renameio/v2"
)

// Errors of the state store; the returned errors wrap them and say what to do.
var (
	ErrNotFound  = errors.New("no such rollout")
	ErrBusy      = errors.New("another aopwizard run is driving this rollout")
	ErrNewer     = errors.New("the rollout was written by a newer aopwizard")
	ErrCorrupt   = errors.New("the rollout file is not valid")
	ErrAmbiguous = errors.New("more than one unfinished rollout")
)

// rolloutsDir is the directory under the state dir that holds one
// <id>.json per rollout and its <id>.lock.
const rolloutsDir = "rollouts"

// Store keeps rollouts under a state directory.
type Store struct {
	Dir string
}

func (s Store) dir() string               { return filepath.Join(s.Dir, rolloutsDir) }
func (s Store) path(id string) string     { return filepath.Join(s.dir(), id+".json") }
func (s Store) lockPath(id string) string { return filepath.Join(s.dir(), id+".lock") }

// NewID returns a rollout id: the zone, the date and a random suffix, so
// `status` lists read well and two rollouts never collide.
func NewID(zone string, now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return strings.ReplaceAll(zone, ".", "-") + "-" + now.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:])
}

// validID keeps ids to the characters NewID makes: an id becomes a file
// name, so a slash or ".." must never reach the filesystem.
func validID(id string) error {
	if id == "" || len(id) > 200 || strings.HasPrefix(id, ".") {
		return fmt.Errorf("rollout id %q is not valid: list them with the status command", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("rollout id %q is not valid: list them with the status command", id)
		}
	}
	return nil
}

// Handle is a rollout opened for driving: it holds the rollout's lock until
// Close.
type Handle struct {
	R     *Rollout
	store Store
	fl    *flock.Flock
}

// Create writes a new rollout and locks it.
func (s Store) Create(r *Rollout) (*Handle, error) {
	if err := validID(r.ID); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dir(), 0o700); err != nil {
		return nil, fmt.Errorf("create the state directory: %w", err)
	}
	if _, err := os.Stat(s.path(r.ID)); err == nil {
		return nil, fmt.Errorf("rollout %s already exists in %s", r.ID, s.dir())
	}
	fl, err := s.lock(r.ID)
	if err != nil {
		return nil, err
	}
	h := &Handle{R: r, store: s, fl: fl}
	if err := h.Save(); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Open loads a rollout and locks it, so no other run drives it meanwhile.
func (s Store) Open(id string) (*Handle, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	if _, err := os.Stat(s.path(id)); err != nil {
		return nil, s.notFound(id, err)
	}
	fl, err := s.lock(id)
	if err != nil {
		return nil, err
	}
	// Loaded under the lock: a run that held it may have saved last.
	r, err := s.Load(id)
	if err != nil {
		_ = fl.Unlock()
		return nil, err
	}
	return &Handle{R: r, store: s, fl: fl}, nil
}

func (s Store) notFound(id string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w %q in %s: list them with the status command", ErrNotFound, id, s.dir())
	}
	return fmt.Errorf("read rollout %s: %w", id, err)
}

// lock takes the rollout's lock without waiting and writes our pid into it
// (in place: replacing the file would break the lock) so a contender can
// name the holder. The lock file is never removed: flock locks an inode.
func (s Store) lock(id string) (*flock.Flock, error) {
	path := s.lockPath(id)
	fl := flock.New(path, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = fmt.Sprintf("pid %d", pid)
			}
		}
		return nil, fmt.Errorf("%w (%s holds %s); wait for it to finish or stop it, nothing was changed", ErrBusy, holder, path)
	}
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		_ = f.Truncate(0)
		_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
		_ = f.Close()
	}
	return fl, nil
}

// Busy reports whether a run holds the rollout's lock now: a step saved as
// running in a rollout nobody holds was cut short.
func (s Store) Busy(id string) bool {
	if validID(id) != nil {
		return false
	}
	if _, err := os.Stat(s.lockPath(id)); err != nil {
		return false
	}
	fl := flock.New(s.lockPath(id))
	ok, err := fl.TryLock()
	if err != nil {
		return false
	}
	if ok {
		_ = fl.Unlock()
	}
	return !ok
}

// Save writes the rollout atomically: a reader (or a crash) sees the old
// file or the new one, never a mix.
func (h *Handle) Save() error {
	data, err := json.MarshalIndent(h.R, "", "  ")
	if err != nil {
		return fmt.Errorf("encode rollout %s: %w", h.R.ID, err)
	}
	if err := renameio.WriteFile(h.store.path(h.R.ID), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save rollout %s: %w", h.R.ID, err)
	}
	return nil
}

// Path is the rollout's state file.
func (h *Handle) Path() string { return h.store.path(h.R.ID) }

// Close releases the lock.
func (h *Handle) Close() {
	if h.fl != nil {
		_ = h.fl.Unlock()
		h.fl = nil
	}
}

// Load reads a rollout without locking it (for status). A newer schema or a
// file that does not parse is refused with an error wrapping ErrNewer or
// ErrCorrupt; the file is left as it is.
func (s Store) Load(id string) (*Rollout, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	path := s.path(id)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, s.notFound(id, err)
	}
	return decode(path, data)
}

func decode(path string, data []byte) (*Rollout, error) {
	var head struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.SchemaVersion == nil {
		why := "it has no schema_version"
		if err != nil {
			why = err.Error()
		}
		return nil, fmt.Errorf("%w: %s: %s; it was left untouched: move it aside to start over, or restore it from a backup", ErrCorrupt, path, why)
	}
	if v := *head.SchemaVersion; v > SchemaVersion {
		return nil, fmt.Errorf("%w: %s has schema_version %d, this aopwizard reads up to %d; it was left untouched: use the newer aopwizard", ErrNewer, path, v, SchemaVersion)
	} else if v < 1 {
		return nil, fmt.Errorf("%w: %s has schema_version %d; it was left untouched", ErrCorrupt, path, v)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var r Rollout
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %s: %v; it was left untouched: move it aside to start over", ErrCorrupt, path, err)
	}
	if validID(r.ID) != nil || filepath.Base(path) != r.ID+".json" || len(r.Steps) == 0 {
		return nil, fmt.Errorf("%w: %s does not describe rollout %q (id or steps missing); it was left untouched", ErrCorrupt, path, strings.TrimSuffix(filepath.Base(path), ".json"))
	}
	return &r, nil
}

// Entry is one rollout in a listing: the rollout, or why it cannot be read.
type Entry struct {
	ID      string
	Rollout *Rollout
	Err     error
}

// List returns every rollout, newest first. Unreadable ones are listed with
// their error, so one bad file does not hide the others.
func (s Store) List() ([]Entry, error) {
	names, err := os.ReadDir(s.dir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list rollouts: %w", err)
	}
	var out []Entry
	for _, n := range names {
		id, ok := strings.CutSuffix(n.Name(), ".json")
		if !ok || n.IsDir() || validID(id) != nil {
			continue
		}
		r, err := s.Load(id)
		out = append(out, Entry{ID: id, Rollout: r, Err: err})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Rollout, out[j].Rollout
		switch {
		case a == nil || b == nil:
			return a != nil
		}
		return a.Updated.After(b.Updated)
	})
	return out, nil
}

// Latest picks the rollout a command without an id means: the only
// unfinished one. Several are an error naming them.
func (s Store) Latest() (string, error) {
	return s.Only((*Rollout).Open, "unfinished")
}

// Only picks the one rollout that match says fits (what names them in
// errors, e.g. "unfinished"); none or several are an error.
func (s Store) Only(match func(*Rollout) bool, what string) (string, error) {
	all, err := s.List()
	if err != nil {
		return "", err
	}
	var ids []string
	for _, e := range all {
		if e.Rollout != nil && match(e.Rollout) {
			ids = append(ids, e.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%w: there is no %s rollout in %s; list them with the status command", ErrNotFound, what, s.dir())
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("%w (%s): %s; name the one to use", ErrAmbiguous, what, strings.Join(ids, ", "))
}
