package server_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// A reload replaces the workers that hold the listening socket, on every
// server aopwizard drives: that is how apply knows the old config no
// longer answers, instead of trusting one lucky handshake.
func TestListenersShowTheReloadedGeneration(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	t.Parallel()
	for _, kind := range server.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			run, port := startServer(t, kind)
			// The master listens before it has started its workers.
			var before server.Listeners
			servertest.Eventually(t, "a master and workers", func() error {
				var err error
				if before, err = server.ListenersOn([]int{port}); err == nil && !before.Generational() {
					err = fmt.Errorf("listeners %v: no workers yet", before)
				}
				return err
			})
			if err := run.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			servertest.Eventually(t, "the old workers to stop listening", func() error {
				now, err := server.ListenersOn([]int{port})
				if err != nil {
					return err
				}
				if stale := before.Stale(now); len(stale) > 0 || len(now.Workers()) == 0 {
					// The HAProxy 2.6 master loses about one USR2 in ten
					// (apply sends it again the same way).
					if time.Since(sent) > 2*time.Second {
						sent = time.Now()
						if err := run.Reload(context.Background()); err != nil {
							return err
						}
					}
					return fmt.Errorf("before %v, now %v: old workers %v still listen", before, now, stale)
				}
				return nil
			})
		})
	}
}

// startServer starts kind from a standalone render on a free port.
func startServer(t *testing.T, kind render.Server) (*servertest.Running, int) {
	t.Helper()
	servertest.RequireServer(t, kind)
	spec := servertest.LabSpec(t, kind, pkitest.New(t), servertest.Dir(t), "example.test")
	_, port, _ := strings.Cut(spec.Listen, ":")
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.StartStandalone(t, spec), n
}
