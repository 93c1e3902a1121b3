package ui

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// captureRef is how the README names the golden file a capture comes from;
// the capture is the next fenced block.
var captureRef = regexp.MustCompile("\\(from `ui/testdata/TestViewGolden/([a-z0-9-]+)/w([0-9]+)\\.golden`\\)")

// TestREADMECapturesAreTheGoldens: every screen capture in the README is its
// golden file as a terminal shows it, so the README cannot show a screen the
// wizard no longer draws. With -update (as for the goldens) it rewrites
// them.
func TestREADMECapturesAreTheGoldens(t *testing.T) {
	const path = "../README.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	refs := captureRef.FindAllStringSubmatchIndex(readme, -1)
	if len(refs) < 8 {
		t.Fatalf("the README names %d screen captures, want the main screens (8 or more)", len(refs))
	}
	var out strings.Builder
	last := 0
	for _, r := range refs {
		name, width := readme[r[2]:r[3]], readme[r[4]:r[5]]
		open := strings.Index(readme[r[1]:], "```\n")
		if open < 0 {
			t.Fatalf("no capture after the reference to %s/w%s", name, width)
		}
		open += r[1] + len("```\n")
		end := strings.Index(readme[open:], "```")
		if end < 0 {
			t.Fatalf("the capture of %s/w%s is not closed", name, width)
		}
		end += open
		golden, err := os.ReadFile("testdata/TestViewGolden/" + name + "/w" + width + ".golden")
		if err != nil {
			t.Fatalf("the README shows %s/w%s: %v", name, width, err)
		}
		want := screenCapture(string(golden))
		if got := readme[open:end]; got != want {
			if !updating() {
				t.Errorf("the README's capture of %s at %s columns is not its golden file (go test ./ui -update rewrites it):\n--- README\n%s--- golden\n%s", name, width, got, want)
			}
		}
		out.WriteString(readme[last:open])
		out.WriteString(want)
		last = end
	}
	out.WriteString(readme[last:])
	if updating() && out.String() != readme {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// screenCapture is a golden frame as plain text: no attributes, no
// trailing spaces, and without the empty rows between the screen's body
// and its footer (a fixed-height frame pads them).
func screenCapture(golden string) string {
	lines := strings.Split(ansi.Strip(golden), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	footer := lines[len(lines)-1]
	body := lines[:len(lines)-1]
	for len(body) > 0 && strings.TrimSpace(strings.TrimRight(body[len(body)-1], "│ ")) == "" {
		body = body[:len(body)-1]
	}
	return strings.Join(append(body, "", footer), "\n") + "\n"
}
