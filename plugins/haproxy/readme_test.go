package haproxy

import (
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// TestREADME: the README has the sections of the plugin guide
// (plugins/README.md), in its order, and its configuration table lists
// exactly the keys the spec accepts.
func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", "haproxy", spec{})
}

// TestREADMEExamples: every example spec in the README is valid.
func TestREADMEExamples(t *testing.T) {
	groups := []sdk.GroupInfo{{ID: 1000, Expire: time.Minute}, {ID: 1001, Expire: time.Minute}}
	sdktest.CheckExamples(t, Plugin, "README.md", groups...)
}
