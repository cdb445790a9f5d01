package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestParentPID(t *testing.T) {
	status := []byte("Name:\trgap-plugin-be\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nPid:\t42\nPPid:\t7\n")
	if got, err := parentPID(status); err != nil || got != 7 {
		t.Errorf("parentPID = %d, %v; want 7", got, err)
	}
	for _, bad := range []string{"Name:\tx\n", "PPid:\tseven\n"} {
		if _, err := parentPID([]byte(bad)); !errors.Is(err, errProcFormat) {
			t.Errorf("parentPID(%q) = %v, want errProcFormat", bad, err)
		}
	}
}

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
	cmd := exec.Command(sleep, "30")
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

func TestProcessCPUOfAnAbsentProcess(t *testing.T) {
	if _, err := processCPU(1 << 30); err == nil {
		t.Error("processCPU of a PID that does not exist: want an error")
	}
}
