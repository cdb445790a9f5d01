package haproxy

import (
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// TestREADME: the README has the sections of the plugin guide
// (plugins/README.md), in its order, its configuration table lists exactly
// the keys the spec accepts, and every example spec in it is valid.
func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", "haproxy", spec{})
	sdktest.CheckExamples(t, Plugin, "README.md", sdk.GroupInfo{ID: 1000, Expire: time.Minute}, sdk.GroupInfo{ID: 1001, Expire: time.Minute})
}
