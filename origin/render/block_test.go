package render

import (
	"bytes"
	"errors"
	"testing"
)

const operatorConf = "# operator's own config\nserver {\n    listen 80;\n}\n"

func TestReplaceBlockAppendsThenReplacesInPlace(t *testing.T) {
	first, err := ReplaceBlock([]byte(operatorConf), "example.com", []byte("one;\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := operatorConf + "# BEGIN aopwizard example.com\none;\n# END aopwizard example.com\n"
	if string(first) != want {
		t.Fatalf("after first ReplaceBlock:\n%s\nwant:\n%s", first, want)
	}
	again, err := ReplaceBlock(first, "example.com", []byte("one;\n"))
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("re-running ReplaceBlock changed the file (err %v):\n%s", err, again)
	}
	// Content after the block must survive a replacement untouched.
	withTail := append(bytes.Clone(first), "tail;\n"...)
	second, err := ReplaceBlock(withTail, "example.com", []byte(BeginMarker("example.com")+"\ntwo;\n"+EndMarker("example.com")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want = operatorConf + "# BEGIN aopwizard example.com\ntwo;\n# END aopwizard example.com\ntail;\n"
	if string(second) != want {
		t.Fatalf("after replacement:\n%s\nwant:\n%s", second, want)
	}
}

func TestRemoveBlockRestoresOriginal(t *testing.T) {
	for _, orig := range []string{operatorConf, "", "a\n\nb\n"} {
		withBlock, err := ReplaceBlock([]byte(orig), "z", []byte("x\ny\n"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := RemoveBlock(withBlock, "z")
		if err != nil || string(got) != orig {
			t.Fatalf("RemoveBlock(ReplaceBlock(%q)) = %q, %v", orig, got, err)
		}
		again, err := RemoveBlock(got, "z")
		if err != nil || string(again) != orig {
			t.Fatalf("RemoveBlock without a block changed the file: %q, %v", again, err)
		}
	}
}

func TestBlocksOfOtherIDsAreUntouched(t *testing.T) {
	conf := "# BEGIN aopwizard a.example.com\nA\n# END aopwizard a.example.com\n"
	got, err := ReplaceBlock([]byte(conf), "a", []byte("mine\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte(conf)) {
		t.Fatalf("block of id a.example.com changed:\n%s", got)
	}
	got, err = RemoveBlock(got, "a.example.com")
	if err != nil || string(got) != "# BEGIN aopwizard a\nmine\n# END aopwizard a\n" {
		t.Fatalf("RemoveBlock(a.example.com) = %q, %v", got, err)
	}
}

func TestBlockWithoutFinalNewline(t *testing.T) {
	conf := "x\n# BEGIN aopwizard z\nold\n# END aopwizard z"
	got, err := ReplaceBlock([]byte(conf), "z", []byte("new"))
	if err != nil || string(got) != "x\n# BEGIN aopwizard z\nnew\n# END aopwizard z" {
		t.Fatalf("ReplaceBlock = %q, %v", got, err)
	}
	b, ok, err := Block(got, "z")
	if err != nil || !ok || string(b) != "# BEGIN aopwizard z\nnew\n# END aopwizard z" {
		t.Fatalf("Block = %q, %v, %v", b, ok, err)
	}
}

func TestBrokenMarkersAreRefused(t *testing.T) {
	cases := map[string]string{
		"begin only": "# BEGIN aopwizard z\nkeep me\n",
		"end only":   "keep me\n# END aopwizard z\n",
		"reversed":   "# END aopwizard z\nkeep\n# BEGIN aopwizard z\n",
		"duplicate":  "# BEGIN aopwizard z\n# END aopwizard z\n# BEGIN aopwizard z\n# END aopwizard z\n",
	}
	for name, conf := range cases {
		if _, err := ReplaceBlock([]byte(conf), "z", []byte("x")); !errors.Is(err, ErrMarkers) {
			t.Errorf("%s: ReplaceBlock err %v, want ErrMarkers", name, err)
		}
		if _, err := RemoveBlock([]byte(conf), "z"); !errors.Is(err, ErrMarkers) {
			t.Errorf("%s: RemoveBlock err %v, want ErrMarkers", name, err)
		}
	}
}
