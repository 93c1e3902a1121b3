package pkitest

import (
	"bytes"
	"sync"
)

// LockedBuffer is a bytes.Buffer that concurrent writers (a child's output
// copier, a runner, progress events, a logger) and the test reading it may
// share. It lives here, beside the lab, because pkitest is the one test
// helper every test tree (cfapi, origin, cmd) already imports and it pulls
// in nothing but pki.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
