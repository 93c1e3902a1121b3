package main

import (
	"os"
	"testing"
)

// TestMain lets tests run this test binary as the aopwizard command itself
// (AOPWIZARD_TEST_RUN_MAIN=1), so they can kill a real process mid-change.
func TestMain(m *testing.M) {
	if os.Getenv("AOPWIZARD_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}
