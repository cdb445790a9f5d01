//go:build !unix

package health

import "os/exec"

// ownGroup does nothing where process groups do not exist: the context's
// cancellation kills the command itself only.
func ownGroup(*exec.Cmd) {}
