package pki

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxInputSize bounds what ReadInput takes from a certificate, key,
// passphrase or config file. Real ones are a few KiB (a CA bundle of
// hundreds of certificates stays well under it); anything larger is the
// wrong file, such as /dev/zero or a log, and must not exhaust memory.
const MaxInputSize = 1 << 20

// ErrTooLarge is wrapped by ReadInput when a file exceeds its limit.
var ErrTooLarge = errors.New("file is too large")

// ReadInput reads the whole file at path, at most limit bytes, and gives up
// as soon as ctx is done. Pipes, FIFOs and /dev/stdin are read like files
// but stay interruptible: a writer that never closes its end cannot hold
// the caller past a cancelled context. A file over limit is refused with an
// error wrapping ErrTooLarge that names the file and the limit; a
// cancelled read wraps ctx.Err().
func ReadInput(ctx context.Context, path string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: stopped: %w", path, err)
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	// The read runs aside so that a device that blocks without supporting
	// cancellation still returns control to the caller on ctx.Done; the file
	// is closed then, which ends the read of a pipe or FIFO at once.
	go func() {
		r, err := OpenInput(ctx, path)
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer r.Close()
		data, err := readLimited(r, path, limit, "")
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		return res.data, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("read %s: stopped: %w", path, ctx.Err())
	}
}

// readLimited reads r to its end, at most limit bytes; what names the
// file's role in the error ("" for any input).
func readLimited(r io.Reader, path string, limit int64, what string) ([]byte, error) {
	var f *os.File
	switch r := r.(type) {
	case *inputFile:
		f = r.f
	case *os.File:
		f = r
	}
	// A regular file says its size: refuse it before reading a byte.
	if f != nil {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
			return nil, tooLarge(path, limit, what)
		}
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if n > limit {
		return nil, tooLarge(path, limit, what)
	}
	return buf.Bytes(), nil
}

func tooLarge(path string, limit int64, what string) error {
	if what == "" {
		what = "certificate, key, passphrase or config file"
	}
	return fmt.Errorf("%w: %s holds more than %s, the most read from a %s: check that it is the right file", ErrTooLarge, path, formatSize(limit), what)
}

// ErrNotRegular is wrapped by ReadRegular when the path is a directory, a
// device, a FIFO or a socket.
var ErrNotRegular = errors.New("not a regular file")

// ReadRegular reads the regular file at path, at most limit bytes; what
// names the file's role in errors ("CA bundle", "pid file"). It never
// blocks on a FIFO or reads a device: the type is checked on the
// descriptor, opened non-blocking, before a byte is read. Use it where a
// path must name a file on disk; ReadInput also reads pipes and
// /dev/stdin.
func ReadRegular(path string, limit int64, what string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s: %w", what, path, NotRegular(fi.Mode()))
	}
	return readLimited(f, path, limit, what)
}

// NotRegular is the error for a path of mode m where a regular file is
// expected: it wraps ErrNotRegular and says what the path is instead.
func NotRegular(m os.FileMode) error {
	kind := "special file"
	switch {
	case m.IsDir():
		kind = "directory"
	case m&os.ModeNamedPipe != 0:
		kind = "named pipe"
	case m&os.ModeSocket != 0:
		kind = "socket"
	case m&os.ModeDevice != 0:
		kind = "device"
	}
	return fmt.Errorf("%w (it is a %s)", ErrNotRegular, kind)
}

// formatSize writes a limit the way people say it: "1 MiB", "64 KiB".
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// OpenInput opens path for reading so that ctx can interrupt both the open
// (a FIFO blocks there until a writer appears) and every later Read (the
// file is closed when ctx is done; a Read then returns ctx.Err()). Callers
// that stream, such as log readers, use it instead of os.Open.
func OpenInput(ctx context.Context, path string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: stopped: %w", path, err)
	}
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	var o opened
	select {
	case o = <-ch:
	case <-ctx.Done():
		// The open may still succeed later: close what it returns.
		go func() {
			if o := <-ch; o.f != nil {
				_ = o.f.Close()
			}
		}()
		return nil, fmt.Errorf("open %s: stopped: %w", path, ctx.Err())
	}
	if o.err != nil {
		return nil, o.err
	}
	f := &inputFile{ctx: ctx, f: o.f}
	f.stop = context.AfterFunc(ctx, func() { _ = o.f.Close() })
	return f, nil
}

// inputFile is a file whose reads end when its context does.
type inputFile struct {
	ctx  context.Context
	f    *os.File
	stop func() bool
}

func (r *inputFile) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err != nil && r.ctx.Err() != nil {
		return n, fmt.Errorf("stopped: %w", r.ctx.Err())
	}
	return n, err
}

func (r *inputFile) Close() error {
	r.stop()
	err := r.f.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil // closed by the context
	}
	return err
}

// ReadPassphrase reads a passphrase file (at most MaxInputSize, like every
// other input): one trailing newline (LF or CRLF) is dropped, since editors
// and echo add it; an empty passphrase is refused, so an unencrypted key is
// always a choice and never an accident.
func ReadPassphrase(ctx context.Context, path string) ([]byte, error) {
	data, err := ReadInput(ctx, path, MaxInputSize)
	if err != nil {
		return nil, fmt.Errorf("read passphrase file: %w", err)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) == 0 {
		return nil, fmt.Errorf("passphrase file %s is empty: write the passphrase into it", path)
	}
	return data, nil
}
