package memory

import (
	"strings"
	"time"

	"github.com/rgap-project/rgap/bench/internal/procfs"
)

// Bounds on waiting for a process.
const (
	startTimeout = 20 * time.Second // the listener has all its plugins up
	stopTimeout  = 10 * time.Second // a process exits after SIGTERM
)

// environHas reports which of keys are set in pid's environment.
func environHas(pid int, keys []string) (map[string]bool, error) {
	env, err := procfs.Environ(pid)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		for _, want := range keys {
			if k == want {
				set[k] = true
			}
		}
	}
	return set, nil
}
