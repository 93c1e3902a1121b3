package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

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
// rolled back to before the rollout, when nothing was served. A reload
// keeps the listening socket and lets the old server finish its requests,
// as nginx's does, so traffic through a reload never fails.
type BuiltinHost struct {
	ConfigPath string

	mu     sync.Mutex
	stop   context.CancelFunc
	done   chan error
	sock   *handoff
	view   *handoffView
	listen string
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
	if _, err := os.Stat(b.ConfigPath); errors.Is(err, os.ErrNotExist) {
		b.stopLocked()
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
	if b.sock == nil || b.listen != cfg.Listen {
		b.stopLocked()
		if b.sock, err = listenHandoff(cfg.Listen); err != nil {
			return err
		}
		b.listen = cfg.Listen
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	view := b.sock.view()
	go func() { done <- srv.Serve(ctx, view) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return err
	}
	// The new server accepts before the old one stops: no connection is
	// refused in between.
	b.stopServer()
	b.stop, b.done, b.view = cancel, done, view
	return nil
}

func (b *BuiltinHost) stopServer() {
	if b.stop != nil {
		// Go's http.Server drops a connection whose request arrives after
		// Shutdown began, so the old server first stops accepting and
		// finishes the connections it took.
		if b.view != nil {
			b.view.drain(drainWait)
		}
		b.stop()
		<-b.done
		b.stop, b.view = nil, nil
	}
}

// drainWait bounds how long a reload waits for the old server's
// connections (a client holding a keep-alive connection open).
const drainWait = 5 * time.Second

func (b *BuiltinHost) stopLocked() {
	b.stopServer()
	if b.sock != nil {
		b.sock.close()
		b.sock, b.listen = nil, ""
	}
}

// handoff owns a listening socket and hands its connections to whichever
// server's view is accepting.
type handoff struct {
	ln    net.Listener
	conns chan net.Conn
	dead  chan struct{}
	once  sync.Once
}

func listenHandoff(addr string) (*handoff, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("builtin origin: listen: %w", err)
	}
	h := &handoff{ln: ln, conns: make(chan net.Conn), dead: make(chan struct{})}
	go h.pump()
	return h, nil
}

func (h *handoff) pump() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			h.close()
			return
		}
		select {
		case h.conns <- c:
		case <-h.dead:
			_ = c.Close()
			return
		}
	}
}

func (h *handoff) close() {
	h.once.Do(func() {
		close(h.dead)
		_ = h.ln.Close()
	})
}

func (h *handoff) view() *handoffView {
	return &handoffView{h: h, done: make(chan struct{}), released: make(chan struct{}, 1)}
}

// requeue gives a connection a closed view took back to the socket.
func (h *handoff) requeue(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.dead:
		_ = c.Close()
	}
}

// handoffView is one server's listener on a handoff; closing it stops that
// server accepting and leaves the socket open.
type handoffView struct {
	h        *handoff
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	closed   bool
	open     int           // connections handed out and not closed
	released chan struct{} // a connection was closed
}

func (v *handoffView) Accept() (net.Conn, error) {
	select {
	case c := <-v.h.conns:
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.closed {
			go v.h.requeue(c)
			return nil, net.ErrClosed
		}
		v.open++
		return &viewConn{Conn: c, v: v}, nil
	case <-v.done:
	case <-v.h.dead:
	}
	return nil, net.ErrClosed
}

func (v *handoffView) Close() error {
	v.once.Do(func() {
		v.mu.Lock()
		v.closed = true
		close(v.done)
		v.mu.Unlock()
	})
	return nil
}

func (v *handoffView) Addr() net.Addr { return v.h.ln.Addr() }

// drain stops accepting and waits, at most d, until every connection this
// view handed out is closed.
func (v *handoffView) drain(d time.Duration) {
	_ = v.Close()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		v.mu.Lock()
		n := v.open
		v.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-v.released:
		case <-t.C:
			return
		}
	}
}

type viewConn struct {
	net.Conn
	v    *handoffView
	once sync.Once
}

func (c *viewConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.v.mu.Lock()
		c.v.open--
		c.v.mu.Unlock()
		select {
		case c.v.released <- struct{}{}:
		default:
		}
	})
	return err
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
