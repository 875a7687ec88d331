package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the tests, removes the binary built for them and then
// checks that no goroutine outlived them; or, as a flooder's process
// (startFlooder), floods.
func TestMain(m *testing.M) {
	if spec := os.Getenv(flooderEnv); spec != "" {
		// The test binary run again as a flood's process.
		os.Exit(runFlooder(spec, os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
