package apply

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// Changes turns rendered files into full new file contents. A file whose
// content is a managed block for id (it starts with render.BeginMarker) is
// merged into the existing file with render.ReplaceBlock, so everything
// outside the markers stays byte for byte; other files are written whole.
//
// Each change records what its file holds now (Change.Original), so Apply
// can refuse a plan the file has moved on from.
//
// Two layout rules of the Debian packages apply on top:
//   - HAProxy's block belongs in the main config (Debian's haproxy.cfg has
//     no include), so it goes to d.ConfigPath, wherever that is.
//   - An Apache site in <dir>/sites-available is enabled with a
//     sites-enabled symlink, as a2ensite does, when that directory exists.
func Changes(out *render.Output, id string, d *server.Driver) ([]Change, error) {
	var changes []Change
	for _, f := range out.Files {
		path := f.Path
		if d.Kind == render.HAProxy && f.Block {
			path = d.ConfigPath
		}
		content := f.Content
		// Whole fragment files are merged too: what an operator added
		// outside the markers survives a re-apply.
		if f.Block || bytes.HasPrefix(content, []byte(render.BeginMarker(id)+"\n")) {
			existing, err := readExisting(path)
			if err != nil {
				return nil, err
			}
			if content, err = render.ReplaceBlock(existing, id, f.Content); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		orig, err := planned(path, false)
		if err != nil {
			return nil, err
		}
		changes = append(changes, Change{Path: path, Content: content, Mode: f.Mode, Original: orig})
		if link, ok := apacheEnableLink(d, path); ok {
			if link.Original, err = planned(link.Path, true); err != nil {
				return nil, err
			}
			changes = append(changes, link)
		}
	}
	return changes, nil
}

func readExisting(path string) ([]byte, error) {
	b, err := readConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func apacheEnableLink(d *server.Driver, path string) (Change, bool) {
	avail := filepath.Dir(path)
	if d.Kind != render.Apache || filepath.Base(avail) != "sites-available" || !strings.HasSuffix(path, ".conf") {
		return Change{}, false
	}
	enabled := filepath.Join(filepath.Dir(avail), "sites-enabled")
	if fi, err := os.Stat(enabled); err != nil || !fi.IsDir() {
		return Change{}, false
	}
	name := filepath.Base(path)
	return Change{Path: filepath.Join(enabled, name), Link: filepath.Join("..", "sites-available", name)}, true
}

// DryRun returns the unified diff of every change, "" when nothing would
// change. It reads but writes nothing.
func DryRun(changes []Change) (string, error) {
	todo, err := pending(changes)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, c := range todo {
		if c.Link != "" {
			fmt.Fprintf(&b, "symlink %s -> %s (new)\n", c.Path, c.Link)
			continue
		}
		old, err := readExisting(c.Path)
		if err != nil {
			return "", err
		}
		oldName := c.Path
		if old == nil {
			oldName = "/dev/null"
		}
		b.WriteString(UnifiedDiff(oldName, c.Path, old, c.Content))
	}
	return b.String(), nil
}

// OriginalOf is Change.Original for a file that held content when the
// change was planned (a planner that read the file itself, such as
// origin/inplace, fills it so Apply refuses an edit made since).
func OriginalOf(content []byte) string { return sum(content) }
