package dns

import (
	"testing"

	"github.com/rgap-project/rgap/sdk/sdktest"
)

// TestREADMEConfigTable: the README's configuration table lists exactly the
// keys the spec accepts (plugins/README.md).
func TestREADMEConfigTable(t *testing.T) {
	sdktest.CheckConfigTable(t, "README.md", spec{})
}

// TestREADMESections: the README has the sections of the plugin guide
// (plugins/README.md), in its order.
func TestREADMESections(t *testing.T) {
	sdktest.CheckREADMESections(t, "README.md", "dns")
}
