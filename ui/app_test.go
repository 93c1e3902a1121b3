package ui

import (
	"strings"
	"testing"
)

func TestConnectFlowSketch(t *testing.T) {
	f := newFakeFlow()
	m := newTestModel(t, f, Options{}, 80, 24)
	t.Log(content(m))
	drive(t, m, press("enter"))
	t.Log(content(m))
	typeText(t, m, "tok")
	drive(t, m, press("enter"))
	typeText(t, m, "example.com")
	drive(t, m, press("enter"))
	t.Log(content(m))
	if !strings.Contains(content(m), "x") {
		t.Log("...")
	}
}
