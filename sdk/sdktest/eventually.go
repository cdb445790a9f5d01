package sdktest

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, for state that the code under test
// changes from its own goroutine (a file it writes, a counter it bumps); the
// test fails after Timeout, naming what it waited for.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("sdktest: timed out after %v waiting for: %s", Timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
