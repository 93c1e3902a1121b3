package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/aopwizard/aopwizard/origin/sites"
)

// common is what the root shares with every screen.
type common struct {
	flow  Flow
	opts  Options
	st    *Styles
	keys  *KeyMap
	sum   *Summary
	now   func() time.Time
	ctx   context.Context
	seq   int
	token string
	// sites are the TLS sites read of each server on this machine (nil:
	// none could be read; present while the read runs).
	sites map[string]*sites.Config
}

// Messages from Flow calls. A step run's messages carry its sequence number,
// so a screen ignores those of a run it no longer shows.
type (
	rolloutsMsg struct {
		list []Summary
		err  error
	}
	summaryMsg struct {
		sum Summary
		err error
	}
	stepStartedMsg struct {
		seq  int
		step string
		ch   <-chan tea.Msg
	}
	stepEventMsg struct {
		seq int
		ev  Event
	}
	stepDoneMsg struct {
		seq  int
		step string
		sum  Summary
		err  error
	}
	// nextMsg asks the root for the screen of the rollout's current step.
	nextMsg struct{}
	// savedMsg says Save returned (before quitting).
	savedMsg struct{ err error }
)

func rolloutsCmd(ctx context.Context, f Flow) tea.Cmd {
	return func() tea.Msg {
		l, err := f.Rollouts(ctx)
		return rolloutsMsg{list: l, err: err}
	}
}

func summaryCmd(call func() (Summary, error)) tea.Cmd {
	return func() tea.Msg {
		s, err := call()
		return summaryMsg{sum: s, err: err}
	}
}

// runStepCmd records in (when not nil) and runs step in a goroutine of its
// own; its events and its end come back through the channel listen reads.
func runStepCmd(ctx context.Context, f Flow, seq int, step string, in *Inputs, sec Secrets) tea.Cmd {
	return func() tea.Msg {
		ch := make(chan tea.Msg, 64)
		send := func(m tea.Msg) {
			select {
			case ch <- m:
			case <-ctx.Done():
			}
		}
		go func() {
			defer close(ch)
			if in != nil {
				if sum, err := f.SetInputs(ctx, *in, sec); err != nil {
					send(stepDoneMsg{seq: seq, step: step, sum: sum, err: err})
					return
				}
			}
			sum, err := f.RunStep(ctx, step, func(ev Event) { send(stepEventMsg{seq: seq, ev: ev}) })
			send(stepDoneMsg{seq: seq, step: step, sum: sum, err: err})
		}()
		return stepStartedMsg{seq: seq, step: step, ch: ch}
	}
}

// listener waits for a running step's next message.
type listener <-chan tea.Msg

func (l listener) next() tea.Msg {
	m, ok := <-l
	if !ok {
		return nil
	}
	return m
}

func listen(ch <-chan tea.Msg) tea.Cmd { return listener(ch).next }

// maxEvents bounds the progress lines a screen keeps.
const maxEvents = 6

// runner runs one step for a screen: the spinner with elapsed time while it
// runs, the latest progress lines, and the end.
type runner struct {
	c       *common
	step    string
	seq     int
	running bool
	started time.Time
	now     time.Time
	ch      <-chan tea.Msg
	events  []Event
	output  []string
	checks  []Check
	spin    spinner.Model
	cancel  context.CancelFunc
}

func newRunner(c *common, step string) runner {
	return runner{c: c, step: step, spin: spinner.New(spinner.WithSpinner(spinner.Dot), spinner.WithStyle(c.st.Running))}
}

// start runs the step after recording in (when not nil).
func (r *runner) start(in *Inputs, sec Secrets) tea.Cmd {
	r.c.seq++
	r.seq = r.c.seq
	r.running = true
	r.started = r.c.now()
	r.now = r.started
	r.events, r.output, r.checks = nil, nil, nil
	ctx, cancel := context.WithCancel(r.c.ctx)
	r.cancel = cancel
	return tea.Batch(runStepCmd(ctx, r.c.flow, r.seq, r.step, in, sec), r.spin.Tick)
}

// update handles the runner's messages. done is true when the step ended
// without error (errors go to the root's error screen).
func (r *runner) update(msg tea.Msg) (done bool, cmd tea.Cmd) {
	switch msg := msg.(type) {
	case spinner.TickMsg:
		if !r.running || msg.ID != r.spin.ID() {
			return false, nil
		}
		r.now = r.c.now()
		var c tea.Cmd
		r.spin, c = r.spin.Update(msg)
		return false, c
	case stepStartedMsg:
		if msg.seq == r.seq {
			r.ch = msg.ch
			return false, listen(r.ch)
		}
	case stepEventMsg:
		if msg.seq == r.seq {
			r.now = r.c.now()
			if out, ok := msg.ev.Fields["output"]; ok {
				r.output = append(r.output, strings.Split(strings.TrimRight(out, "\n"), "\n")...)
			}
			if f := msg.ev.Fields; f["case"] != "" {
				r.checks = append(r.checks, Check{Origin: f["origin"], Hostname: f["hostname"], Case: f["case"],
					Expected: f["expected"], Observed: f["observed"], OK: f["result"] == "ok"})
			}
			r.events = append(r.events, msg.ev)
			if n := len(r.events) - maxEvents; n > 0 {
				r.events = r.events[n:]
			}
			return false, listen(r.ch)
		}
	case stepDoneMsg:
		if msg.seq == r.seq {
			r.running = false
			r.now = r.c.now()
			if r.cancel != nil {
				r.cancel()
			}
			return msg.err == nil, nil
		}
	}
	return false, nil
}

// elapsed is the run time so far, in whole seconds.
func (r *runner) elapsed() time.Duration {
	return r.now.Sub(r.started).Truncate(time.Second)
}

// view is the spinner line and the latest progress lines.
func (r *runner) view(label string) string {
	if !r.running {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\n", r.spin.View(), label, r.c.st.Subtle.Render(r.elapsed().String()))
	for _, ev := range r.events {
		fmt.Fprintf(&b, "%s %s\n", r.c.st.Subtle.Render("·"), ev.Message)
	}
	return b.String()
}

// said is what the step reported (its info and warning lines, not its
// start and end, nor the machine's re-checks of the steps before it),
// newest last, for a screen to show once it is done.
func (r *runner) said() []string {
	var out []string
	for _, ev := range r.events {
		if ev.Step == r.step && (ev.Status == "info" || ev.Status == "warning") {
			out = append(out, ev.Message)
		}
	}
	return out
}

// lastMessage is the newest progress line, "" before any.
func (r *runner) lastMessage() string {
	if len(r.events) == 0 {
		return ""
	}
	return r.events[len(r.events)-1].Message
}
