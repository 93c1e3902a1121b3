package cfsim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// faultFor decides the fault of request #i from Sequence, then Rate. The
// choice hashes (Seed, i) instead of drawing from a shared generator, so it
// does not depend on how concurrent requests interleave.
func (s *Sim) faultFor(i int, path string) FaultKind {
	f := s.opts.Faults
	if len(f.Paths) > 0 {
		hit := false
		for _, p := range f.Paths {
			hit = hit || strings.Contains(path, p)
		}
		if !hit {
			return ""
		}
	}
	if i < len(f.Sequence) && f.Sequence[i] != "" {
		return f.Sequence[i]
	}
	if f.Rate <= 0 {
		return ""
	}
	if unitFloat(s.opts.Seed, i, "rate") >= f.Rate {
		return ""
	}
	return f.Kinds[int(unitFloat(s.opts.Seed, i, "kind")*float64(len(f.Kinds)))%len(f.Kinds)]
}

// unitFloat is a deterministic value in [0,1) for (seed, i, purpose).
func unitFloat(seed int64, i int, purpose string) float64 {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(seed))
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	h := sha256.Sum256(append(b[:], purpose...))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}

// injectedStatus is the status a faulted request is answered with (0 for a
// dropped connection); the 5xx variant depends only on (Seed, i).
func (s *Sim) injectedStatus(kind FaultKind, i int) int {
	switch kind {
	case Fault429:
		return http.StatusTooManyRequests
	case Fault5xx:
		return []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[int(unitFloat(s.opts.Seed, i, "5xx")*3)]
	}
	return 0
}

// writeInjected answers a faulted request with status (from
// injectedStatus) without touching state.
func (s *Sim) writeInjected(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusTooManyRequests:
		ra := s.opts.Faults.RetryAfter
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(ra))
		h.Set("X-Ratelimit-Limit", "1200")
		h.Set("X-Ratelimit-Remaining", "0")
		h.Set("X-Ratelimit-Reset", s.clock().Add(secondsDuration(ra)).UTC().Format(http.TimeFormat))
		writeFailure(w, fail(status, CodeRateLimited, "Please wait and consider throttling your request speed"))
	case http.StatusInternalServerError:
		writeFailure(w, fail(status, CodeInternal, "Internal Server Error"))
	case http.StatusBadGateway:
		// Cloudflare's edge answers a failed API origin with an HTML page,
		// not the JSON envelope: clients must cope with both.
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(status)
		fmt.Fprint(w, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")
	case http.StatusServiceUnavailable:
		writeFailure(w, fail(status, CodeUnavailable, "Service Unavailable"))
	default:
		dropConnection(w)
	}
}

// dropConnection closes the TCP connection without an HTTP response, as a
// reset in the network would look to the client.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 or a recorder: abort the handler so the server resets the
		// stream instead of sending a response.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, not FIN: the client sees "connection reset by peer"
	}
	_ = conn.Close()
}

func secondsDuration(n int) time.Duration { return time.Duration(n) * time.Second }
