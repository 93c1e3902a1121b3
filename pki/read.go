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
		data, err := readLimited(r, path, limit)
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		return res.data, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("read %s: stopped: %w", path, ctx.Err())
	}
}

func readLimited(r io.Reader, path string, limit int64) ([]byte, error) {
	if f, ok := r.(*inputFile); ok {
		// A regular file says its size: refuse it before reading a byte.
		if fi, err := f.f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
			return nil, tooLarge(path, limit)
		}
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if n > limit {
		return nil, tooLarge(path, limit)
	}
	return buf.Bytes(), nil
}

func tooLarge(path string, limit int64) error {
	return fmt.Errorf("%w: %s holds more than %s, the most read from a certificate, key, passphrase or config file: check that it is the right file", ErrTooLarge, path, formatSize(limit))
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
