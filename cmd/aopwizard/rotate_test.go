package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/steps"
)

// edgeLoop sends requests for one hostname through cfsim's edge, one after
// the other, until stopped or its bound is reached, and counts what fails.
type edgeLoop struct {
	mu       sync.Mutex
	ok       int
	failures []string
	progress chan struct{}
	// after names the last rotation phase done, for failure messages.
	after string
	stop  chan struct{}
	done  chan struct{}
}

// Bounds of a loop: it stops by itself after this many requests or this
// long, whichever comes first, so a hung test cannot run forever.
const (
	edgeLoopMax      = 20000
	edgeLoopDeadline = 3 * time.Minute
)

func startEdgeLoop(t *testing.T, l *runLab, host string) *edgeLoop {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(l.edge.CACertPEM())
	var d net.Dialer
	client := &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, l.edge.Addr())
			},
			DisableKeepAlives: true,
		},
	}
	e := &edgeLoop{progress: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		end := time.Now().Add(edgeLoopDeadline)
		for i := 0; i < edgeLoopMax && time.Now().Before(end); i++ {
			select {
			case <-e.stop:
				return
			default:
			}
			problem := ""
			resp, err := client.Get("https://" + host + "/")
			if err != nil {
				problem = err.Error()
			} else {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					problem = fmt.Sprintf("%d %s (%s level; %s)", resp.StatusCode, strings.TrimSpace(string(body)), resp.Header.Get(cfsim.HeaderAOPLevel), resp.Header.Get("X-Cfsim-Error"))
				}
			}
			e.mu.Lock()
			if problem != "" {
				e.failures = append(e.failures, "after phase "+orStart(e.after)+": "+problem)
			} else {
				e.ok++
			}
			e.mu.Unlock()
			if problem == "" {
				select {
				case e.progress <- struct{}{}:
				default:
				}
			}
		}
	}()
	t.Cleanup(e.finish)
	return e
}

// await returns once n more requests succeeded, or fails the rotation
// after a deadline.
func (e *edgeLoop) await(n int) error {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for range n {
		select {
		case <-e.progress:
		case <-e.done:
			return fmt.Errorf("the request loop ended")
		case <-deadline.C:
			return fmt.Errorf("no successful request through the edge within 30s")
		}
	}
	return nil
}

func (e *edgeLoop) finish() {
	select {
	case <-e.stop:
	default:
		close(e.stop)
	}
	<-e.done
}

func (e *edgeLoop) result() (int, []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ok, append([]string(nil), e.failures...)
}

// Rotation, under the same CA and to a new CA, in zone and hostname
// modes, with the origin enforcing: a request loop through the edge runs
// during the whole rotation (and at least two requests succeed after every
// phase) with zero failed requests. Afterwards the old certificate is gone
// from Cloudflare, and after a new-CA rotation the origin refuses the old
// certificate.
func TestRotateZeroFailedRequestsThroughTheEdge(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		newCA bool
	}{{"zone", false}, {"zone", true}, {"hostname", false}, {"hostname", true}} {
		t.Run(fmt.Sprintf("%s/new-ca=%v", tc.mode, tc.newCA), func(t *testing.T) {
			const host = "a.example.test"
			l := newRunLab(t, cfsim.Options{DeployAfter: 2})
			runCLI(t, l.args(tc.mode, "--hostname", host, "--enforce")...).expect(t, 0, "enforced, verified")
			id := l.rolloutIDs(t)[0]
			before := loadRollout(t, l, id)

			loop := startEdgeLoop(t, l, host)
			var phases []string
			rolloutSeams.rotateHook = func(phase string) error {
				phases = append(phases, phase)
				loop.mu.Lock()
				loop.after = phase
				loop.mu.Unlock()
				return loop.await(2)
			}
			args := []string{"rotate", id, "--state-dir", l.stateDir, "--yes"}
			if tc.newCA {
				args = append(args, "--new-ca")
			}
			runCLI(t, args...).expect(t, 0, "rotated", "rotation complete")
			if err := loop.await(2); err != nil {
				t.Fatal(err)
			}
			loop.finish()
			ok, failures := loop.result()
			if len(failures) > 0 {
				logb, _ := os.ReadFile(filepath.Join(l.dir, "access.log"))
				for _, line := range strings.Split(string(logb), "\n") {
					if strings.Contains(line, "tls-error") {
						t.Log(line)
					}
				}
				t.Fatalf("%d of %d requests through the edge failed during the rotation, first: %s", len(failures), ok+len(failures), failures[0])
			}
			want := []string{steps.RotateIssued, steps.RotateUploaded, steps.RotateSwitched, steps.RotateVerified, steps.RotateDeleted}
			if tc.newCA {
				want = []string{steps.RotateIssued, steps.RotateTrusted, steps.RotateUploaded, steps.RotateSwitched, steps.RotateVerified, steps.RotateDeleted, steps.RotateDropped}
			}
			if !reflect.DeepEqual(phases, want) {
				t.Fatalf("phases %v, want %v", phases, want)
			}
			t.Logf("%d requests through the edge, none failed", ok)

			after := loadRollout(t, l, id)
			oldC, newC := before.Certificates[0], after.Certificates[0]
			if newC.ID == oldC.ID || after.Rotation != nil || l.sim.Uploads(runZone) != 2 {
				t.Fatalf("after the rotation: %+v, %d uploads", after.Certificates, l.sim.Uploads(runZone))
			}
			if (newC.CAFile != oldC.CAFile) != tc.newCA {
				t.Fatalf("CA file %s -> %s, new CA %v", oldC.CAFile, newC.CAFile, tc.newCA)
			}
			for _, c := range l.sim.Certificates(runZone) {
				if c.ID == oldC.ID && c.Status == cfsim.StatusActive {
					t.Fatalf("the old certificate %s is still active", c.ID)
				}
			}
			oldRefused := originRefuses(t, l, host, oldC)
			if oldRefused != tc.newCA {
				t.Fatalf("the enforcing origin refuses the old certificate: %v, want %v", oldRefused, tc.newCA)
			}
			if originRefuses(t, l, host, newC) {
				t.Fatal("the enforcing origin refuses the new certificate")
			}
		})
	}
}

func loadRollout(t *testing.T, l *runLab, id string) *steps.Rollout {
	t.Helper()
	h, err := steps.Store{Dir: l.stateDir}.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r := *h.R
	return &r
}

// originRefuses reports whether the origin refuses a request made directly
// with c's certificate.
func originRefuses(t *testing.T, l *runLab, host string, c steps.CertRecord) bool {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{ServerName: host, InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}}, //nolint:gosec // the origin's own certificate is not what is tested
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequest(http.MethodGet, "https://"+l.listen+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host // hostname mode answers 421 to a Host its SNI does not name
	resp, err := client.Do(req)
	if err != nil {
		return true
	}
	resp.Body.Close()
	return resp.StatusCode != http.StatusOK
}

// originFiles are the bytes of every file of the origin's config.
func originFiles(t *testing.T, l *runLab) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := filepath.Join(l.dir, "conf")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Rollback leaves cfsim and the origin exactly as they were before the
// rollout: the zone's settings, certificates, associations and the
// account's alert policies, and every origin config file byte for byte;
// also after a rotation to a new CA (its two origin changes undone too).
// The zone starts with an operator's own zone certificate and a hostname
// association the rollout must not touch.
func TestRollbackRestoresCloudflareAndOrigin(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		rotate bool
	}{{"zone", false}, {"hostname", false}, {"zone", true}, {"hostname", true}} {
		t.Run(fmt.Sprintf("%s/rotated=%v", tc.mode, tc.rotate), func(t *testing.T) {
			l := newRunLab(t, cfsim.Options{DeployAfter: 1})
			simBefore, filesBefore := l.sim.Snapshot(runZone), originFiles(t, l)
			runCLI(t, l.args(tc.mode, "--hostname", "a.example.test", "--hostname", "b.example.test", "--enforce",
				"--alerts-email", "ops@example.test")...).expect(t, 0, "enforced, verified")
			id := l.rolloutIDs(t)[0]
			if reflect.DeepEqual(l.sim.Snapshot(runZone), simBefore) || reflect.DeepEqual(originFiles(t, l), filesBefore) {
				t.Fatal("the rollout changed nothing the snapshots see")
			}
			if tc.rotate {
				runCLI(t, "rotate", id, "--state-dir", l.stateDir, "--yes", "--new-ca").expect(t, 0, "rotated")
			}
			runCLI(t, "rollback", id, "--state-dir", l.stateDir, "--yes").expect(t, 0, "rolled back")
			if got := l.sim.Snapshot(runZone); !reflect.DeepEqual(got, simBefore) {
				t.Errorf("Cloudflare after rollback:\n%+v\nbefore:\n%+v", got, simBefore)
			}
			if got := originFiles(t, l); !reflect.DeepEqual(got, filesBefore) {
				t.Errorf("origin files after rollback: %v\nbefore: %v", keys(got), keys(filesBefore))
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func orStart(p string) string {
	if p == "" {
		return "(start)"
	}
	return p
}
