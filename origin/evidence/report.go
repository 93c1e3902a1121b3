package evidence

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

// Options select the lines a report counts.
type Options struct {
	// From and To bound the window (inclusive); zero means unbounded.
	From, To time.Time
	// Hostnames restricts the report; empty counts every hostname. Named
	// hostnames are listed even with no requests, so "nothing seen" shows.
	Hostnames []string
	// Rays are CF-Ray values to look for: requests sent through the edge
	// whose arrival (and verification result) at the origin is the proof
	// that Cloudflare presents the certificate the origin trusts.
	Rays []string
}

// RaySeen is the origin's log line for one CF-Ray value.
type RaySeen struct {
	Ray      string    `json:"ray"`
	Hostname string    `json:"hostname"`
	Time     time.Time `json:"time"`
	Status   int       `json:"status"`
	Verify   string    `json:"verify"`
	Reason   string    `json:"reason,omitempty"`
	Issuer   string    `json:"issuer,omitempty"`
}

// Impact previews enforcement: the requests in the window that the
// enforce phase would have refused (no certificate, or one that failed
// verification), split into those Cloudflare forwarded (they carry a
// CF-Ray) and direct ones, which enforcement is meant to stop.
type Impact struct {
	Cloudflare int `json:"cloudflare"`
	Direct     int `json:"direct"`
	// TopDirect lists the direct clients with the most such requests.
	TopDirect []ClientCount `json:"top_direct_clients,omitempty"`
	// TopCloudflare lists the edge addresses whose requests would fail:
	// non-zero means enforcing now would break traffic through Cloudflare.
	TopCloudflare []ClientCount `json:"top_cloudflare_clients,omitempty"`
}

// ClientCount is one client address and its number of requests.
type ClientCount struct {
	Client   string `json:"client"`
	Requests int    `json:"requests"`
}

// topClients is how many client addresses an Impact names.
const topClients = 5

// HostStats counts one hostname's requests in the window.
type HostStats struct {
	Hostname string `json:"hostname"`
	Requests int    `json:"requests"`
	Success  int    `json:"success"`
	None     int    `json:"none"`
	Failed   int    `json:"failed"`
	// FailedReasons tallies the reasons of failed verifications.
	FailedReasons map[string]int `json:"failed_reasons,omitempty"`
	// Issuers tallies the issuer DNs of the certificates that verified:
	// which CA's certificate the edge actually presents.
	Issuers     map[string]int `json:"success_issuers,omitempty"`
	First       time.Time      `json:"first,omitzero"`
	Last        time.Time      `json:"last,omitzero"`
	LastSuccess time.Time      `json:"last_success,omitzero"`
}

// String summarises the counts: "12 requests: 10 SUCCESS, 1 NONE, 1 FAILED".
func (h HostStats) String() string {
	if h.Requests == 0 {
		return "no requests in the window"
	}
	return fmt.Sprintf("%d requests: %d SUCCESS, %d NONE, %d FAILED", h.Requests, h.Success, h.None, h.Failed)
}

// Skip records a line that could not be parsed (the first few are kept to
// show why, e.g. a log written in another format).
type Skip struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Report is the result of reading one or more logs.
type Report struct {
	From  time.Time `json:"from,omitzero"`
	To    time.Time `json:"to,omitzero"`
	Files []string  `json:"files"`
	// Lines read, Counted in the report, Skipped as unparsable, outside
	// the window, or for hostnames not asked about.
	Lines         int         `json:"lines"`
	Counted       int         `json:"counted"`
	Skipped       int         `json:"skipped"`
	OutsideWindow int         `json:"outside_window"`
	OtherHosts    int         `json:"other_hostnames"`
	FirstSkips    []Skip      `json:"first_skipped,omitempty"`
	Hosts         []HostStats `json:"hosts"`
	// Rays holds the lines found for Options.Rays (the newest per ray).
	Rays []RaySeen `json:"rays,omitempty"`
	// Impact counts the requests enforcement would refuse.
	Impact Impact `json:"enforce_impact"`
}

// Ray returns the line logged for ray, if one was.
func (r *Report) Ray(ray string) (RaySeen, bool) {
	for _, s := range r.Rays {
		if s.Ray == ray {
			return s, true
		}
	}
	return RaySeen{}, false
}

// Host returns the stats of one hostname (zero counts if none were seen).
func (r *Report) Host(name string) HostStats {
	name = strings.ToLower(name)
	for _, h := range r.Hosts {
		if h.Hostname == name {
			return h
		}
	}
	return HostStats{Hostname: name}
}

// maxLine bounds a line; longer ones are skipped, not fatal.
const maxLine = 1 << 20

// keptSkips is how many skipped lines a report describes.
const keptSkips = 5

// Collector accumulates lines from one or more readers into a Report.
type Collector struct {
	opts  Options
	want  map[string]bool
	hosts map[string]*HostStats
	rays  map[string]*RaySeen
	// refused counts, per client address, requests enforcement would
	// refuse: [true] those that came with a CF-Ray, [false] the others.
	refused map[bool]map[string]int
	rep     Report
}

// NewCollector starts an empty report.
func NewCollector(opts Options) *Collector {
	c := &Collector{opts: opts, hosts: map[string]*HostStats{}, refused: map[bool]map[string]int{true: {}, false: {}}}
	if len(opts.Rays) > 0 {
		c.rays = make(map[string]*RaySeen, len(opts.Rays))
		for _, r := range opts.Rays {
			c.rays[r] = nil
		}
	}
	c.rep.From, c.rep.To = opts.From, opts.To
	c.rep.Files = []string{}
	if len(opts.Hostnames) > 0 {
		c.want = map[string]bool{}
		for _, h := range opts.Hostnames {
			h = strings.ToLower(strings.TrimSuffix(h, "."))
			c.want[h] = true
			c.hosts[h] = &HostStats{Hostname: h}
		}
	}
	return c
}

// Read streams r line by line; name labels it in skip records. Garbage
// lines are counted as skipped; only read errors and ctx stop it.
func (c *Collector) Read(ctx context.Context, name string, r io.Reader) error {
	c.rep.Files = append(c.rep.Files, name)
	br := bufio.NewReaderSize(r, maxLine)
	n := 0
	for {
		line, isPrefix, err := br.ReadLine()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		n++
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if isPrefix {
			for isPrefix && err == nil {
				_, isPrefix, err = br.ReadLine()
			}
			if err != nil && err != io.EOF {
				return fmt.Errorf("read %s: %w", name, err)
			}
			// Read, though not parsed: "0 lines read, 1 skipped" would not add up.
			c.rep.Lines++
			c.skip(name, n, fmt.Sprintf("line longer than %d bytes", maxLine))
			continue
		}
		c.Add(name, n, string(line))
	}
}

// Add counts one line.
func (c *Collector) Add(file string, lineNo int, line string) {
	c.rep.Lines++
	e, err := ParseLine(line)
	if err != nil {
		c.skip(file, lineNo, err.Error())
		return
	}
	if (!c.opts.From.IsZero() && e.Time.Before(c.opts.From)) || (!c.opts.To.IsZero() && e.Time.After(c.opts.To)) {
		c.rep.OutsideWindow++
		return
	}
	if c.want != nil && !c.want[e.Hostname] {
		c.rep.OtherHosts++
		return
	}
	c.rep.Counted++
	if seen, ok := c.rays[e.Ray]; ok && e.Ray != "" && (seen == nil || !e.Time.Before(seen.Time)) {
		c.rays[e.Ray] = &RaySeen{Ray: e.Ray, Hostname: e.Hostname, Time: e.Time, Status: e.Status, Verify: e.Verify, Reason: e.Reason, Issuer: e.Issuer}
	}
	if e.Verify != VerifySuccess {
		c.refuse(e)
	}
	h := c.hosts[e.Hostname]
	if h == nil {
		h = &HostStats{Hostname: e.Hostname}
		c.hosts[e.Hostname] = h
	}
	h.Requests++
	if h.First.IsZero() || e.Time.Before(h.First) {
		h.First = e.Time
	}
	if e.Time.After(h.Last) {
		h.Last = e.Time
	}
	switch e.Verify {
	case VerifySuccess:
		h.Success++
		if e.Time.After(h.LastSuccess) {
			h.LastSuccess = e.Time
		}
		if e.Issuer != "" {
			h.Issuers = inc(h.Issuers, e.Issuer)
		}
	case VerifyNone:
		h.None++
	default:
		h.Failed++
		h.FailedReasons = inc(h.FailedReasons, e.Reason)
	}
}

// refuse counts a request the enforce phase would refuse.
func (c *Collector) refuse(e Entry) {
	if e.Ray != "" {
		c.rep.Impact.Cloudflare++
	} else {
		c.rep.Impact.Direct++
	}
	client := e.Client
	if client == "" {
		client = "-"
	}
	c.refused[e.Ray != ""][client]++
}

// top returns the clients with the most refused requests, cf or not.
func (c *Collector) top(cf bool) []ClientCount {
	var out []ClientCount
	for client, n := range c.refused[cf] {
		out = append(out, ClientCount{Client: client, Requests: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Requests != out[j].Requests {
			return out[i].Requests > out[j].Requests
		}
		return out[i].Client < out[j].Client
	})
	if len(out) > topClients {
		out = out[:topClients]
	}
	return out
}

func inc(m map[string]int, k string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k]++
	return m
}

func (c *Collector) skip(file string, line int, reason string) {
	c.rep.Skipped++
	if len(c.rep.FirstSkips) < keptSkips {
		c.rep.FirstSkips = append(c.rep.FirstSkips, Skip{File: file, Line: line, Reason: reason})
	}
}

// Report returns the counts so far, hostnames sorted.
func (c *Collector) Report() *Report {
	rep := c.rep
	rep.Hosts = make([]HostStats, 0, len(c.hosts))
	for _, h := range c.hosts {
		rep.Hosts = append(rep.Hosts, *h)
	}
	sort.Slice(rep.Hosts, func(i, j int) bool { return rep.Hosts[i].Hostname < rep.Hosts[j].Hostname })
	rep.Files = slices.Clone(rep.Files)
	rep.FirstSkips = slices.Clone(rep.FirstSkips)
	for _, r := range c.opts.Rays {
		if s := c.rays[r]; s != nil {
			rep.Rays = append(rep.Rays, *s)
		}
	}
	rep.Impact.TopDirect, rep.Impact.TopCloudflare = c.top(false), c.top(true)
	return &rep
}

// Files lists the logs to read for path, oldest first: with rotated, the
// previous generation "path.1" (logrotate's uncompressed copy) if present.
func Files(path string, rotated bool) ([]string, error) {
	if !rotated {
		return []string{path}, nil
	}
	_, err := os.Stat(path + ".1")
	switch {
	case err == nil:
		return []string{path + ".1", path}, nil
	case errors.Is(err, fs.ErrNotExist):
		return []string{path}, nil
	}
	return nil, fmt.Errorf("check rotated log: %w", err)
}

// ReadFiles reads each file in turn into one report.
func ReadFiles(ctx context.Context, paths []string, opts Options) (*Report, error) {
	c := NewCollector(opts)
	for _, p := range paths {
		if err := readFile(ctx, c, p); err != nil {
			return nil, err
		}
	}
	return c.Report(), nil
}

// readFile streams one log. The file is opened so that ctx interrupts a
// read that waits (a FIFO or /dev/stdin whose writer never closes), not
// just the loop between lines.
func readFile(ctx context.Context, c *Collector, path string) error {
	f, err := pki.OpenInput(ctx, path)
	if err != nil {
		return fmt.Errorf("open evidence log: %w", err)
	}
	defer f.Close()
	return c.Read(ctx, path, f)
}
