package render

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrMarkers is wrapped by ReplaceBlock, RemoveBlock and Block when a file's
// markers for an id are unbalanced, out of order or duplicated: editing such
// a file could delete the operator's own configuration, so nothing is done.
var ErrMarkers = errors.New("managed block markers are broken")

// BeginMarker is the first line of a managed block.
func BeginMarker(id string) string { return "# BEGIN aopwizard " + id }

// EndMarker is the last line of a managed block.
func EndMarker(id string) string { return "# END aopwizard " + id }

// span is the byte range [start, end) of a managed block in a file, from the
// first byte of the begin-marker line to just after the end-marker line's
// newline (or the end of the file).
type span struct{ start, end int }

// findBlock locates the block for id. Markers count only as whole lines
// (surrounding blanks ignored), so "# BEGIN aopwizard a" never matches id
// "a.b".
func findBlock(data []byte, id string) (span, bool, error) {
	begin, end := []byte(BeginMarker(id)), []byte(EndMarker(id))
	var begins, ends []span
	for off := 0; off < len(data); {
		next := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		line := bytes.TrimSpace(data[off:next])
		switch {
		case bytes.Equal(line, begin):
			begins = append(begins, span{off, next})
		case bytes.Equal(line, end):
			ends = append(ends, span{off, next})
		}
		off = next
	}
	switch {
	case len(begins) == 0 && len(ends) == 0:
		return span{}, false, nil
	case len(begins) > 1 || len(ends) > 1:
		return span{}, false, fmt.Errorf("%w: %d %q and %d %q lines; keep one block for %s and delete the other copies by hand", ErrMarkers, len(begins), BeginMarker(id), len(ends), EndMarker(id), id)
	case len(begins) != len(ends):
		return span{}, false, fmt.Errorf("%w: %q without its partner line; restore the missing marker or delete the block by hand", ErrMarkers, string(append(begins, ends...)[0].line(data)))
	case ends[0].start < begins[0].start:
		return span{}, false, fmt.Errorf("%w: %q comes before %q; fix the markers by hand", ErrMarkers, EndMarker(id), BeginMarker(id))
	}
	return span{begins[0].start, ends[0].end}, true, nil
}

func (s span) line(data []byte) []byte { return bytes.TrimSpace(data[s.start:s.end]) }

// wrap returns block framed by the markers for id, ending in a newline. A
// block that already starts and ends with those markers is used as it is.
func wrap(id string, block []byte) []byte {
	b := bytes.TrimRight(block, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) >= 2 && string(bytes.TrimSpace(lines[0])) == BeginMarker(id) && string(bytes.TrimSpace(lines[len(lines)-1])) == EndMarker(id) {
		return append(bytes.Clone(b), '\n')
	}
	var out bytes.Buffer
	out.WriteString(BeginMarker(id) + "\n")
	if len(b) > 0 {
		out.Write(b)
		out.WriteByte('\n')
	}
	out.WriteString(EndMarker(id) + "\n")
	return out.Bytes()
}

// ReplaceBlock returns existing with the managed block for id set to block
// (with or without its markers). An existing block is replaced in place; a
// missing one is appended (after a newline, if existing lacks a final one).
// Everything outside the block is kept byte for byte, so running it twice
// gives the same result as running it once.
func ReplaceBlock(existing []byte, id string, block []byte) ([]byte, error) {
	s, found, err := findBlock(existing, id)
	if err != nil {
		return nil, err
	}
	w := wrap(id, block)
	if !found {
		out := bytes.Clone(existing)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(out, w...), nil
	}
	if s.end == len(existing) && existing[len(existing)-1] != '\n' {
		// The old end marker had no newline: keep the file's last byte as it was.
		w = w[:len(w)-1]
	}
	out := make([]byte, 0, len(existing)-(s.end-s.start)+len(w))
	out = append(out, existing[:s.start]...)
	out = append(out, w...)
	return append(out, existing[s.end:]...), nil
}

// RemoveBlock returns existing without the managed block for id (markers
// included). Without a block it returns existing unchanged.
func RemoveBlock(existing []byte, id string) ([]byte, error) {
	s, found, err := findBlock(existing, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return bytes.Clone(existing), nil
	}
	out := make([]byte, 0, len(existing)-(s.end-s.start))
	out = append(out, existing[:s.start]...)
	return append(out, existing[s.end:]...), nil
}

// Block returns the managed block for id, markers included, and whether the
// file has one.
func Block(existing []byte, id string) ([]byte, bool, error) {
	s, found, err := findBlock(existing, id)
	if err != nil || !found {
		return nil, false, err
	}
	return bytes.Clone(existing[s.start:s.end]), true, nil
}
