package apply

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aopwizard/aopwizard/origin/server"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of progress Apply, Rollback and Recover report.
const (
	// Started: a step begins (Step names it; Message says it in words).
	Started EventKind = iota + 1
	// CommandStarted: Command is about to run.
	CommandStarted
	// CommandRun: Command ended; Output holds what it printed, Err how it
	// failed.
	CommandRun
	// CheckpointSaved: Checkpoint holds the originals of the files to change.
	CheckpointSaved
	// FileWritten: File was written (apply) or restored or removed
	// (restore; Step says which).
	FileWritten
	// ListenerChecked: the listener shows the expected config.
	ListenerChecked
	// Note: other progress worth a line, e.g. a reload sent again.
	Note
	// Done: the run succeeded.
	Done
	// Failed: a step failed (Err); a restore follows when files were written.
	Failed
)

// Steps named in events.
const (
	StepTestCurrent = "test-current" // the config test before anything changes
	StepCheckpoint  = "checkpoint"
	StepWrite       = "write"
	StepTestNew     = "test-new" // the config test of the written files
	StepReload      = "reload"
	StepListener    = "listener-check"
	StepRestore     = "restore"
	StepRemove      = "remove" // a file the change created, removed on restore
	StepRecover     = "recover"
	StepRollback    = "rollback"
	StepApply       = "apply"
)

// Event is one piece of progress.
type Event struct {
	Kind EventKind
	// Step is the step the event belongs to; a command's events carry the
	// step that ran it.
	Step       string
	Command    string // shell-quoted command line (CommandStarted, CommandRun)
	Output     string // the command's combined stdout and stderr (CommandRun)
	File       string // FileWritten
	Checkpoint string // checkpoint directory name, when one is involved
	Duration   time.Duration
	Err        error
	// Message is the progress line for a text log ("" for commands, whose
	// Text is the command and its output).
	Message string
}

// Text is the event as lines of a text log: "$ command", a command's
// output indented, or the message. It is what the CLI prints.
// TextEvents shows progress as the lines of a text log on w (nil: none).
func TextEvents(w io.Writer) func(Event) {
	if w == nil {
		return nil
	}
	return func(ev Event) { _, _ = io.WriteString(w, ev.Text()) }
}

func (e Event) Text() string {
	switch e.Kind {
	case CommandStarted:
		return "$ " + e.Command + "\n"
	case CommandRun:
		if e.Output == "" {
			return ""
		}
		var b strings.Builder
		for _, l := range strings.Split(strings.TrimRight(e.Output, "\n"), "\n") {
			b.WriteString("  " + l + "\n")
		}
		return b.String()
	}
	if e.Message == "" {
		return ""
	}
	return e.Message + "\n"
}

func (o *Options) emit(e Event) {
	if e.Kind == Started {
		o.step = e.Step
	}
	if e.Step == "" {
		e.Step = o.step
	}
	if o.Events != nil {
		o.Events(e)
	}
}

// note reports a progress line of kind k.
func (o *Options) note(k EventKind, step, format string, args ...any) {
	o.emit(Event{Kind: k, Step: step, Message: fmt.Sprintf(format, args...)})
}

// eventRunner reports every command the driver runs as events.
type eventRunner struct {
	inner server.Runner
	o     *Options
}

func (r eventRunner) Run(ctx context.Context, argv ...string) ([]byte, error) {
	line := server.Quote(argv)
	r.o.emit(Event{Kind: CommandStarted, Command: line})
	start := time.Now()
	out, err := r.inner.Run(ctx, argv...)
	r.o.emit(Event{Kind: CommandRun, Command: line, Output: string(out), Err: err, Duration: time.Since(start)})
	return out, err
}
