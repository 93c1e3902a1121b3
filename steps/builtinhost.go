package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aopwizard/aopwizard/origin/builtin"
)

// Commands a BuiltinHost answers in place of a server's config test and
// reload; give them as the rollout's test and reload commands.
const (
	BuiltinTestCmd   = "aopwizard-builtin-config-test"
	BuiltinReloadCmd = "aopwizard-builtin-reload"
)

// BuiltinHost runs the builtin origin inside this process and answers
// origin/apply's config test and reload as a server.Runner, so the demo and
// tests drive it through the real apply (checkpoint, atomic writes, listener
// check) like any server. A reload with the config gone stops the origin:
// rolled back to before the rollout, when nothing was served.
type BuiltinHost struct {
	ConfigPath string

	mu   sync.Mutex
	stop context.CancelFunc
	done chan error
}

// Run implements server.Runner for BuiltinTestCmd and BuiltinReloadCmd.
func (b *BuiltinHost) Run(_ context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("builtin host: no command")
	}
	switch argv[len(argv)-1] {
	case BuiltinTestCmd:
		if _, err := os.Stat(b.ConfigPath); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		_, err := builtin.Load(b.ConfigPath)
		return nil, err
	case BuiltinReloadCmd:
		return nil, b.restart()
	}
	return nil, fmt.Errorf("builtin host: unexpected command %q", argv)
}

func (b *BuiltinHost) restart() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
	if _, err := os.Stat(b.ConfigPath); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	cfg, err := builtin.Load(b.ConfigPath)
	if err != nil {
		return err
	}
	srv, err := builtin.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return err
	}
	b.stop, b.done = cancel, done
	return nil
}

func (b *BuiltinHost) stopLocked() {
	if b.stop != nil {
		b.stop()
		<-b.done
		b.stop = nil
	}
}

// Close stops the origin.
func (b *BuiltinHost) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
}

// builtinHosts are this process's builtin origins, by config path.
var builtinHosts struct {
	sync.Mutex
	m map[string]*BuiltinHost
}

// BuiltinHostFor returns this process's BuiltinHost for the config at
// path, made at first use: a rollout whose test and reload commands are
// BuiltinTestCmd and BuiltinReloadCmd has its builtin origin served from
// inside aopwizard, for as long as aopwizard runs (trials against the
// simulator, the demo).
func BuiltinHostFor(path string) *BuiltinHost {
	builtinHosts.Lock()
	defer builtinHosts.Unlock()
	if builtinHosts.m == nil {
		builtinHosts.m = map[string]*BuiltinHost{}
	}
	h := builtinHosts.m[path]
	if h == nil {
		h = &BuiltinHost{ConfigPath: path}
		builtinHosts.m[path] = h
	}
	return h
}

// inProcess reports whether the origin's commands are a BuiltinHost's.
func (o OriginInputs) inProcess() bool {
	return o.TestCmd == BuiltinTestCmd && o.ReloadCmd == BuiltinReloadCmd && o.Config != ""
}
