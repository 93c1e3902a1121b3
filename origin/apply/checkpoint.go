package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"syscall"
	"time"

	"github.com/google/renameio/v2"

	"github.com/aopwizard/aopwizard/origin/server"
)

// A checkpoint is a directory <checkpoint-dir>/<UTC timestamp>-<id>/ with
//
//	manifest.json  what was saved and how to reload (written atomically)
//	in-progress    present while the checkpoint may be half-applied
//	files/NNN      the original bytes of each file that existed
//
// The in-progress marker is created before anything is saved and removed
// only once a change is finalised or restored, so a run killed at any point
// leaves a marker that the next run's recovery acts on. The manifest is
// complete before the first server file is written: a marker without a
// manifest therefore means nothing was touched yet.

const (
	manifestName   = "manifest.json"
	inProgressName = "in-progress"
	filesDir       = "files"
	schemaVersion  = 1
)

// Checkpoint states in the manifest.
const (
	StateInProgress = "in-progress" // files may be written; restore on recovery
	StateFinalised  = "finalised"   // the change is live; rollback restores it
	StateRestored   = "restored"    // the originals are back (failure, recovery or rollback)
)

// Manifest describes one checkpoint.
type Manifest struct {
	Schema  int            `json:"schema"`
	ID      string         `json:"id"`
	Created time.Time      `json:"created"`
	State   string         `json:"state"`
	Driver  *server.Driver `json:"driver"` // to test and reload the right server on recovery
	Files   []SavedFile    `json:"files"`
	// Dirs are directories the change created, removed again (if empty)
	// on restore, deepest first.
	Dirs []string `json:"created_dirs,omitempty"`
	// Baseline is what the listener announced before the change; a
	// restore is verified against it.
	Baseline []Target `json:"baseline,omitempty"`
	// Reason says why the checkpoint was restored.
	Reason string `json:"reason,omitempty"`
}

// SavedFile is one file a change touched.
type SavedFile struct {
	Path    string      `json:"path"`
	Existed bool        `json:"existed"`
	Mode    fs.FileMode `json:"mode,omitempty"`
	UID     int         `json:"uid"`
	GID     int         `json:"gid"`
	Backup  string      `json:"backup,omitempty"` // relative to the checkpoint dir
	SHA256  string      `json:"sha256,omitempty"` // of the original
	// Written is the SHA-256 of what aopwizard wrote, so rollback can tell
	// whether someone edited the file since.
	Written string `json:"written_sha256"`
	Link    bool   `json:"symlink,omitempty"` // aopwizard created Path as a symlink
}

// Checkpoint is a checkpoint directory and its manifest.
type Checkpoint struct {
	Dir string
	Manifest
}

// Name is the checkpoint's directory name, which users pass around.
func (c *Checkpoint) Name() string { return filepath.Base(c.Dir) }

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// newCheckpoint creates the directory and its in-progress marker.
func newCheckpoint(root, id string, d *server.Driver, now time.Time) (*Checkpoint, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create checkpoint dir: %w", err)
	}
	label := unsafeID.ReplaceAllString(id, "_")
	if label == "" {
		label = "change"
	}
	base := now.UTC().Format("20060102T150405.000000000Z") + "-" + label
	dir := filepath.Join(root, base)
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create checkpoint: %w", err)
		}
		dir = filepath.Join(root, fmt.Sprintf("%s-%d", base, i))
	}
	c := &Checkpoint{Dir: dir, Manifest: Manifest{Schema: schemaVersion, ID: id, Created: now.UTC(), State: StateInProgress, Driver: d}}
	if err := renameio.WriteFile(filepath.Join(dir, inProgressName), []byte("aopwizard: restore this checkpoint if found\n"), 0o600); err != nil {
		return nil, fmt.Errorf("mark checkpoint in progress: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, filesDir), 0o700); err != nil {
		return nil, fmt.Errorf("create checkpoint: %w", err)
	}
	return c, nil
}

// save copies path's bytes, mode and owner into the checkpoint, or records
// that it does not exist yet.
func (c *Checkpoint) save(path string, written []byte, link bool) error {
	sf := SavedFile{Path: path, Written: sum(written), Link: link}
	fi, err := os.Stat(path)
	switch {
	case link || errors.Is(err, fs.ErrNotExist):
		// Links are only ever created (pending refuses to replace a path).
	case err != nil:
		return fmt.Errorf("checkpoint %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("checkpoint %s: not a regular file; aopwizard only edits regular files", path)
	default:
		data, err := readConfig(path)
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", path, err)
		}
		sf.Existed, sf.Mode, sf.SHA256 = true, fi.Mode().Perm(), sum(data)
		sf.UID, sf.GID = owner(fi)
		sf.Backup = filepath.Join(filesDir, fmt.Sprintf("%03d", len(c.Files)))
		if err := renameio.WriteFile(filepath.Join(c.Dir, sf.Backup), data, 0o600); err != nil {
			return fmt.Errorf("checkpoint %s: %w", path, err)
		}
	}
	c.Files = append(c.Files, sf)
	return nil
}

// owner returns a file's uid and gid.
func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return os.Getuid(), os.Getgid()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeManifest saves the manifest atomically.
func (c *Checkpoint) writeManifest() error {
	b, err := json.MarshalIndent(c.Manifest, "", "  ")
	if err != nil {
		return err
	}
	if err := renameio.WriteFile(filepath.Join(c.Dir, manifestName), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write checkpoint manifest: %w", err)
	}
	return nil
}

// setState records a new state; leaving in-progress removes the marker
// after the manifest says so, never before.
func (c *Checkpoint) setState(state, reason string) error {
	c.State, c.Reason = state, reason
	if err := c.writeManifest(); err != nil {
		return err
	}
	if state == StateInProgress {
		return renameio.WriteFile(filepath.Join(c.Dir, inProgressName), []byte("aopwizard: restore this checkpoint if found\n"), 0o600)
	}
	if err := os.Remove(filepath.Join(c.Dir, inProgressName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("finalise checkpoint: %w", err)
	}
	return nil
}

// restore puts every saved file back byte for byte with its mode and owner,
// deletes the files the change created and the directories it made. It
// keeps going after an error so as much as possible is restored.
func (c *Checkpoint) restore() ([]string, error) {
	var done []string
	var errs []error
	for i := len(c.Files) - 1; i >= 0; i-- {
		f := c.Files[i]
		if !f.Existed {
			if err := os.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", f.Path, err))
				continue
			}
			done = append(done, "removed "+f.Path)
			continue
		}
		data, err := readConfig(filepath.Join(c.Dir, f.Backup))
		if err == nil && sum(data) != f.SHA256 {
			err = fmt.Errorf("backup %s does not match its recorded checksum", f.Backup)
		}
		if err == nil {
			err = writeFile(f.Path, data, f.Mode, f.UID, f.GID)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", f.Path, err))
			continue
		}
		done = append(done, "restored "+f.Path)
	}
	for _, d := range c.Dirs {
		// Only empty: the operator may have put files there since.
		_ = os.Remove(d)
	}
	return done, errors.Join(errs...)
}

// writeFile replaces path atomically with data, mode and owner; the owner
// is set on the temp file so the final name never has the wrong one.
func writeFile(path string, data []byte, mode fs.FileMode, uid, gid int) error {
	pf, err := renameio.NewPendingFile(path, renameio.WithStaticPermissions(mode))
	if err != nil {
		return err
	}
	defer pf.Cleanup()
	if _, err := pf.Write(data); err != nil {
		return err
	}
	if err := pf.Chown(uid, gid); err != nil {
		return err
	}
	return pf.CloseAtomicallyReplace()
}

// loadCheckpoint reads a checkpoint directory; a nil manifest with no error
// means the marker exists but nothing was saved yet.
func loadCheckpoint(dir string) (*Checkpoint, error) {
	b, err := server.ReadFile(filepath.Join(dir, manifestName), server.MaxConfigFile, "checkpoint manifest")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Dir: dir}
	if err := json.Unmarshal(b, &c.Manifest); err != nil {
		return nil, fmt.Errorf("checkpoint %s: bad manifest: %w", filepath.Base(dir), err)
	}
	if c.Schema != schemaVersion {
		return nil, fmt.Errorf("checkpoint %s: manifest schema %d, this aopwizard reads %d; use the aopwizard version that wrote it", filepath.Base(dir), c.Schema, schemaVersion)
	}
	if c.Driver == nil {
		return nil, fmt.Errorf("checkpoint %s: manifest names no server", filepath.Base(dir))
	}
	return c, nil
}

// inProgress reports whether dir still carries the in-progress marker.
func inProgress(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, inProgressName))
	return err == nil
}

// listCheckpoints returns the checkpoint directories under root, oldest
// first (their names start with a sortable UTC timestamp).
func listCheckpoints(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}
