package command

import (
	"testing"

	"github.com/rgap-project/rgap/sdk/sdktest"
)

// TestREADME: the README has the sections of the plugin guide
// (plugins/README.md), in its order, and its configuration table lists
// exactly the keys the spec accepts.
func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", "command", spec{})
}
