package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Runner executes external commands. Every command that touches the web
// server goes through one, so the operator sees and the log records exactly
// what was run; tests may inject a fake.
type Runner interface {
	Run(ctx context.Context, argv ...string) (output []byte, err error)
}

// Record is one command a Runner executed.
type Record struct {
	Argv     []string
	Output   string
	Err      error
	Duration time.Duration
}

// ExecRunner runs commands with os/exec, writes "$ cmd" and the command's
// output to Out as it goes, and keeps a record of everything it ran.
type ExecRunner struct {
	Out io.Writer // may be nil

	mu      sync.Mutex
	records []Record
}

// NewExecRunner returns a runner that shows commands on out.
func NewExecRunner(out io.Writer) *ExecRunner { return &ExecRunner{Out: out} }

// waitDelay bounds how long Run waits for output after the command exits:
// a daemonising server could otherwise keep the pipe open forever.
const waitDelay = 3 * time.Second

// Run executes argv and returns its combined stdout and stderr. A non-zero
// exit is an error that includes the output, because that is where servers
// explain what is wrong with a config.
func (r *ExecRunner) Run(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("run: empty command")
	}
	line := Quote(argv)
	r.printf("$ %s\n", line)
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.WaitDelay = waitDelay
	// Its own process group, ended with us: a reload cut short must not
	// go on to load a half-applied config behind the restore.
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	out := buf.Bytes()
	if len(out) > 0 {
		r.printf("%s", indent(out))
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%s: %w", line, ctx.Err())
		} else if msg := strings.TrimSpace(string(out)); msg != "" {
			err = fmt.Errorf("%s: %w: %s", line, err, lastLines(msg, 5))
		} else {
			err = fmt.Errorf("%s: %w", line, err)
		}
	}
	r.mu.Lock()
	r.records = append(r.records, Record{Argv: append([]string(nil), argv...), Output: string(out), Err: err, Duration: took})
	r.mu.Unlock()
	return out, err
}

// Records returns the commands run so far, oldest first.
func (r *ExecRunner) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}

func (r *ExecRunner) printf(format string, args ...any) {
	if r.Out == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.Out, format, args...)
}

// Quote renders argv as a shell command line, quoting only where needed,
// so a user can copy it.
func Quote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = quoteArg(a)
	}
	return strings.Join(parts, " ")
}

func quoteArg(a string) string {
	if a == "" {
		return "''"
	}
	if strings.IndexFunc(a, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

func indent(out []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		b.WriteString("  ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// lastLines keeps the tail of a long message: servers print the decisive
// error last.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
