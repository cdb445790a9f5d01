package propagation

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCheckPluginProcess makes sure the orchestrator sends SIGKILL only to
// the listener's child running the plugin file.
func TestCheckPluginProcess(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command to stand in for a plugin")
	}
	sleep, err = filepath.EvalSymlinks(sleep)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sleep, "30") //nolint:gosec // sleep(1) from PATH, standing in for a plugin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pid := cmd.Process.Pid
	if err := checkPluginProcess(pid, os.Getpid(), sleep); err != nil {
		t.Errorf("our child running %s: %v", sleep, err)
	}
	for name, args := range map[string][3]any{
		"other file":   {pid, os.Getpid(), "/usr/lib/rgap/plugins/rgap-plugin-benchjoin"},
		"other parent": {pid, os.Getppid(), sleep},
		"no process":   {1 << 30, os.Getpid(), sleep},
	} {
		if err := checkPluginProcess(args[0].(int), args[1].(int), args[2].(string)); !errors.Is(err, errNotOurPlugin) {
			t.Errorf("%s: checkPluginProcess = %v, want errNotOurPlugin", name, err)
		}
	}
}
