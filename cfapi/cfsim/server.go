package cfsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

// ServeOptions configures Start: a simulator serving its API, and
// optionally its edge, on loopback addresses. `aopwizard sim` and an
// in-process demo start the simulator the same way, with the same checks.
type ServeOptions struct {
	Options
	// Listen is the API's address, loopback only; default "127.0.0.1:0".
	Listen string
	// Edge, if not nil, also starts the edge. Its Zone defaults to the
	// first zone.
	Edge *EdgeOptions
}

// Validate reports the first option Start would refuse (an *OptionError),
// before anything listens.
func (o ServeOptions) Validate() error {
	if err := o.Options.Validate(); err != nil {
		return err
	}
	if o.Listen != "" {
		if err := ValidateListen(o.Listen); err != nil {
			return err
		}
	}
	if o.Edge != nil {
		return o.Edge.Validate()
	}
	return nil
}

// Server is a running simulator started by Start.
type Server struct {
	Sim *Sim
	// APIURL is the API's base URL, ending in /client/v4/.
	APIURL string
	// Edge is the running edge, nil without ServeOptions.Edge.
	Edge *Edge
	// Zones are the zone names the simulator holds, defaults applied.
	Zones []string

	srv    *http.Server
	served chan error
}

// Start validates o, then serves the API (and the edge) until ctx ends or
// Close. Without zones the simulator holds DefaultZone.
func Start(ctx context.Context, o ServeOptions) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	zones := []string{DefaultZone}
	if len(o.Zones) > 0 {
		zones = make([]string, len(o.Zones))
		for i, z := range o.Zones {
			zones[i] = pki.NormalizeName(z)
		}
	}
	o.Zones = zones
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	sim := New(o.Options)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	s := &Server{Sim: sim, APIURL: "http://" + ln.Addr().String() + "/client/v4/", Zones: o.Zones,
		srv: &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}, served: make(chan error, 1)}
	go func() { s.served <- s.srv.Serve(ln) }()
	if o.Edge != nil {
		eo := *o.Edge
		if eo.Zone == "" {
			eo.Zone = o.Zones[0]
		}
		if s.Edge, err = sim.StartEdge(ctx, eo); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("start the edge: %w", err)
		}
	}
	return s, nil
}

// Wait serves until ctx ends, then shuts down (a requested stop is the
// normal end of a server: nil), or until serving fails.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return s.Close()
	case err := <-s.served:
		_ = s.Close()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve the API: %w", err)
	}
}

// Close stops the edge and the API, letting requests in flight finish for
// up to 5 seconds.
func (s *Server) Close() error {
	if s.Edge != nil {
		_ = s.Edge.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A client connection that never sent a request counts as active
		// for as long as the graceful stop waits: close it, it has nothing
		// in flight.
		err = s.srv.Close()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stop the simulator: %w", err)
	}
	return nil
}
