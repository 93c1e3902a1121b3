package builtin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/pki"
)

// A config path that is not a config (here an endless device) is refused
// after 1 MiB with an error naming it, instead of exhausting memory.
func TestBuiltinLoadCapped(t *testing.T) {
	t.Parallel()
	_, err := Load("/dev/zero")
	if !errors.Is(err, pki.ErrTooLarge) || !strings.Contains(err.Error(), "/dev/zero") {
		t.Fatalf("Load(/dev/zero): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadContext(ctx, "/dev/zero"); !errors.Is(err, context.Canceled) {
		t.Fatalf("LoadContext with a cancelled context: %v", err)
	}
}
