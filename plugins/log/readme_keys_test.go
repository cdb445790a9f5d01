package log

import (
	"testing"

	"github.com/rgap-project/rgap/sdk/sdktest"
)

// TestREADMEConfigTable: the README's configuration table lists exactly the
// keys the spec accepts (plugins/README.md).
func TestREADMEConfigTable(t *testing.T) {
	sdktest.CheckConfigTable(t, "README.md", Spec{})
}
