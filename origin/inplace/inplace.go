// Package inplace adds Authenticated Origin Pulls to the operator's
// existing TLS site, the way certbot edits a server block: the directives
// go inside the block that origin/sites found, between
// "# BEGIN aopwizard <id>/<n>" and "# END aopwizard <id>/<n>" lines, with
// the block's own indentation, and every other byte of the file is kept.
//
// Plan is pure: it returns the full new content of every file it changes
// (FileEdit), which origin/apply writes with its checkpoint, config test,
// reload, listener check and byte-for-byte restore (turn each into an
// apply.Change{Path: e.Path, Content: e.New}). Rolling back is restoring
// the checkpoint; Plan for the other phase rewrites the marked text in
// place.
package inplace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/sites"
)

// ErrConflict is wrapped when a block already has directives the change
// would replace (client verification, nginx's 495 handler or access_log
// off, HAProxy's log format) and Input.Override is not set: nothing is
// changed.
var ErrConflict = errors.New("the site already has directives that adding AOP would replace")

// ErrLoose is wrapped when a block matched a hostname only by a wildcard
// or regex name and Input.AllowLoose is not set.
var ErrLoose = errors.New("the site matches the hostname only by a wildcard or regex name")

// ErrChanged is wrapped when a file on disk differs from what the server
// read: the config changed between discovery and the edit.
var ErrChanged = errors.New("the file changed since the server's configuration was read")

// Input is what to add.
type Input struct {
	ID     string       // managed-block id, e.g. the zone
	Phase  render.Phase // soft or enforce
	Mode   render.Mode  // hostname mode adds the no-SNI guard when enforcing
	CAFile string       // absolute path of the CA bundle to trust
	// HostCAFiles are per-hostname CA bundles (hostname mode); a block
	// found for a hostname listed here trusts that bundle instead of CAFile.
	HostCAFiles map[string]string
	AccessLog   string // absolute path of the evidence (aop1) log
	// Blocks are the blocks to edit (origin/sites results for the
	// rollout's hostnames); a block found for several hostnames is edited
	// once.
	Blocks []sites.Found
	// Override allows changing directives the operator already had that
	// conflict (they are commented out in place, so the checkpoint and the
	// file itself keep the original text).
	Override bool
	// AllowLoose allows editing blocks matched only by a wildcard or regex.
	AllowLoose bool
}

// FileEdit is the full old and new content of one file. Path is the real
// file (symlinks resolved): write it there, not over a sites-enabled link.
type FileEdit struct {
	Path     string
	Old, New []byte
	// Created is set for a file the plan creates (HAProxy's crt-list);
	// write it with mode 0644.
	Created bool
}

// Conflict is a directive the operator already had.
type Conflict struct {
	sites.Setting
	Block string // file:line of the block
	// Resolution says what the plan does with it when Override is set.
	Resolution string
}

func (c Conflict) String() string {
	s := fmt.Sprintf("%s: %s (block %s)", c.Where(), c.Text, c.Block)
	if c.Inherited {
		s += ", inherited"
	}
	return s
}

// Plan is the result of planning an in-place change.
type Plan struct {
	Edits     []FileEdit
	Warnings  []string
	Conflicts []Conflict
}

// validate checks the input; oneCA refuses a block found for hostnames
// that trust different CAs.
func (in *Input) validate(oneCA bool) error {
	if in.ID == "" || strings.ContainsAny(in.ID, " \t\r\n/#") {
		return fmt.Errorf("block id %q is empty or has spaces, '/' or '#': use the zone name", in.ID)
	}
	if in.Phase != render.Soft && in.Phase != render.Enforce {
		return fmt.Errorf("phase %q is neither soft nor enforce", in.Phase)
	}
	if len(in.Blocks) == 0 {
		return errors.New("no block to edit: the hostnames have no TLS site; use a new managed block or add TLS to the site first")
	}
	paths := []string{in.AccessLog}
	for _, b := range in.Blocks {
		ca := in.caFile(b)
		if ca == "" {
			return fmt.Errorf("no CA bundle for %s: give the zone's CA bundle, or this hostname's own in hostname mode", b.Hostname)
		}
		paths = append(paths, ca)
	}
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("path %q is not absolute: the server resolves relative paths against its own directory", p)
		}
		if err := checkPath("path", p); err != nil {
			return err
		}
	}

	if oneCA {
		if err := in.oneCAPerBlock(); err != nil {
			return err
		}
	}
	if !in.AllowLoose {
		for _, b := range in.Blocks {
			if b.Match != sites.Exact && b.Match != "" {
				return fmt.Errorf("%w: %s matches by %q, which serves other hostnames too; confirm to edit it anyway", ErrLoose, b.Where(), b.Pattern)
			}
		}
	}
	return nil
}

// oneCAPerBlock refuses a block found for hostnames that trust different
// CAs: an nginx server or Apache virtual host has one client CA.
func (in *Input) oneCAPerBlock() error {
	cas := map[string]string{}
	for _, b := range in.Blocks {
		k, ca := b.RealFile+":"+strconv.Itoa(b.Line), in.caFile(b)
		if prev, ok := cas[k]; ok && prev != ca {
			return fmt.Errorf("%s serves hostnames that trust different CAs (%s and %s): a server block has one client CA; give those hostnames separate blocks first", b.Where(), prev, ca)
		}
		cas[k] = ca
	}
	return nil
}

// caFile is the CA bundle a block trusts.
func (in *Input) caFile(b sites.Found) string {
	if ca, ok := in.HostCAFiles[b.Hostname]; ok && b.Hostname != "" {
		return ca
	}
	return in.CAFile
}

// blocks returns the distinct blocks, in file and line order.
func (in *Input) blocks() []sites.Found {
	seen := map[string]bool{}
	var out []sites.Found
	for _, b := range in.Blocks {
		k := b.RealFile + "\x00" + strconv.Itoa(b.Line)
		if !seen[k] {
			seen[k] = true
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].RealFile != out[j].RealFile {
			return out[i].RealFile < out[j].RealFile
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// markerID is the id of the n-th edited block of a file (1-based): one
// file may hold several of the site's blocks (IPv4 and IPv6), and markers
// must be unique per file (render.ReplaceBlock refuses duplicates).
func markerID(id string, n int) string { return id + "/" + strconv.Itoa(n) }

// op replaces src[start:end] with text.
type op struct {
	start, end int
	text       string
}

// fileOps collects the operations on one file.
type fileOps struct {
	path  string
	src   []byte
	ops   []op
	spans []span // aopwizard's marked regions for the id
}

type editor struct {
	files map[string]*fileOps
	order []string
	// created are whole new files (path -> content), after the edits.
	created []FileEdit
}

func (e *editor) file(path string, src []byte) *fileOps {
	if e.files == nil {
		e.files = map[string]*fileOps{}
	}
	f, ok := e.files[path]
	if !ok {
		f = &fileOps{path: path, src: src}
		e.files[path] = f
		e.order = append(e.order, path)
	}
	return f
}

// load reads the real file behind path (symlinks resolved), checks that
// it still holds what the server read, and finds the id's marked regions.
func (e *editor) load(path string, read []byte, id string) (*fileOps, error) {
	real := sites.RealPath(path)
	if f, ok := e.files[real]; ok {
		return f, nil
	}
	disk, err := os.ReadFile(real)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", real, err)
	}
	if !bytes.Equal(disk, read) {
		return nil, fmt.Errorf("%w: %s; read the configuration again", ErrChanged, real)
	}
	sp, err := markedSpans(disk, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", real, err)
	}
	f := e.file(real, disk)
	f.spans = sp
	return f, nil
}

// warnShared is the warning for a block that serves more hostnames.
func warnShared(p *Plan, b sites.Found) {
	if len(b.Others) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s also serves %s: they get client-certificate verification too", b.Where(), strings.Join(b.Others, ", ")))
	}
}

func (e *editor) edits() ([]FileEdit, error) {
	var out []FileEdit
	for _, p := range e.order {
		f := e.files[p]
		ops := append([]op(nil), f.ops...)
		sort.Slice(ops, func(i, j int) bool { return ops[i].start < ops[j].start })
		var b bytes.Buffer
		last := 0
		for _, o := range ops {
			if o.start < last {
				return nil, fmt.Errorf("%s: overlapping edits at byte %d; edit this file by hand", p, o.start)
			}
			b.Write(f.src[last:o.start])
			b.WriteString(o.text)
			last = o.end
		}
		b.Write(f.src[last:])
		if !bytes.Equal(b.Bytes(), f.src) {
			out = append(out, FileEdit{Path: p, Old: f.src, New: b.Bytes()})
		}
	}
	for _, c := range e.created {
		if !bytes.Equal(c.Old, c.New) {
			out = append(out, c)
		}
	}
	return out, nil
}

// lineStart is the offset of the first byte of the line holding off.
func lineStart(src []byte, off int) int {
	return bytes.LastIndexByte(src[:off], '\n') + 1
}

// indentOf is the leading blanks of the line holding off.
func indentOf(src []byte, off int) string {
	s := lineStart(src, off)
	e := s
	for e < len(src) && (src[e] == ' ' || src[e] == '\t') {
		e++
	}
	return string(src[s:e])
}

// onlyBlanksBefore reports whether off is the first non-blank of its line.
func onlyBlanksBefore(src []byte, off int) bool {
	return strings.TrimLeft(string(src[lineStart(src, off):off]), " \t") == ""
}

// span is a marked region [start, end) of a file: from the begin line's
// first byte to after the end line's newline.
type span struct {
	start, end int
	id         string
}

// markedSpans finds every "# BEGIN aopwizard <id>/..." region of src.
func markedSpans(src []byte, id string) ([]span, error) {
	var out []span
	var open *span
	begin, end := render.BeginMarker(id)+"/", render.EndMarker(id)+"/"
	for off := 0; off < len(src); {
		next := len(src)
		if i := bytes.IndexByte(src[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		l := strings.TrimSpace(string(src[off:next]))
		switch {
		case strings.HasPrefix(l, begin):
			if open != nil {
				return nil, fmt.Errorf("%w: %q inside another aopwizard block; fix the markers by hand", render.ErrMarkers, l)
			}
			open = &span{start: off, id: strings.TrimPrefix(l, "# BEGIN aopwizard ")}
		case strings.HasPrefix(l, end):
			if open == nil || strings.TrimPrefix(l, "# END aopwizard ") != open.id {
				return nil, fmt.Errorf("%w: %q without its begin line; fix the markers by hand", render.ErrMarkers, l)
			}
			open.end = next
			out = append(out, *open)
			open = nil
		}
		off = next
	}
	if open != nil {
		return nil, fmt.Errorf("%w: %q has no end line; fix the markers by hand", render.ErrMarkers, render.BeginMarker(open.id))
	}
	return out, nil
}

func inSpans(spans []span, off int) bool {
	for _, s := range spans {
		if off >= s.start && off < s.end {
			return true
		}
	}
	return false
}

// spanWithin returns the marked region inside [from, to), if any.
func spanWithin(spans []span, from, to int) (span, bool) {
	for _, s := range spans {
		if s.start >= from && s.end <= to {
			return s, true
		}
	}
	return span{}, false
}

// indentLines prefixes every non-empty line of lines with indent and
// frames them with the markers for mid.
func framed(mid, indent string, lines []string) string {
	var b strings.Builder
	b.WriteString(indent + render.BeginMarker(mid) + "\n")
	for _, l := range lines {
		if l == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString(indent + l + "\n")
	}
	b.WriteString(indent + render.EndMarker(mid) + "\n")
	return b.String()
}

// insertBlock adds a marked region to a block whose closing brace (or
// closing line) is at closeAt: before the closing line when it stands on
// its own line, otherwise on new lines before it. An existing region for
// the block is replaced where it is.
func insertBlock(f *fileOps, spans []span, from, closeAt int, mid, indent string, lines []string) {
	if s, ok := spanWithin(spans, from, closeAt); ok {
		f.ops = append(f.ops, op{start: s.start, end: s.end, text: framed(mid, indentOf(f.src, s.start), lines)})
		return
	}
	if onlyBlanksBefore(f.src, closeAt) {
		at := lineStart(f.src, closeAt)
		f.ops = append(f.ops, op{start: at, end: at, text: framed(mid, indent, lines)})
		return
	}
	text := "\n" + framed(mid, indent, lines) + indentOf(f.src, from)
	f.ops = append(f.ops, op{start: closeAt, end: closeAt, text: text})
}

// commentOut turns the directive text at [start, end) into a comment that
// names the id, so the operator sees what replaced it.
func commentOut(f *fileOps, start, end int, id string) {
	text := string(f.src[start:end])
	f.ops = append(f.ops, op{start: start, end: end, text: "# aopwizard " + id + " replaced: " + strings.ReplaceAll(text, "\n", "\n# ")})
}

// unsafeChars are rejected in paths written into a config: quotes and
// backslashes would end or escape the quoted value, '$' starts a variable
// (nginx, Apache ${VAR}, HAProxy "$VAR"), and control characters end the
// line.
func checkPath(what, p string) error {
	for _, r := range p {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("\"'\\$;{}#%", r) {
			return fmt.Errorf("%s %q contains %q, which cannot be written safely into the server configuration: use a path without quotes, backslashes, '$', '%%', '#', ';' or braces", what, p, r)
		}
	}
	return nil
}
