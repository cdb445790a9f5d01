package noop

import (
	"slices"
	"testing"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

func TestReadmeExamples(t *testing.T) {
	specs := sdktest.SpecsFromMarkdown(t, "README.md", "noop")
	if len(specs) != 3 {
		t.Fatalf("README has %d noop examples, want 3", len(specs))
	}
	for _, spec := range specs {
		h := sdktest.Start(t, Plugin, spec, sdk.GroupInfo{ID: 1000})
		if all, groups := h.Subscription(); all || len(groups) != 0 {
			t.Fatalf("spec %q: subscribed to %v (all %v), want nothing", spec, groups, all)
		}
		h.Heartbeat()
		h.Sync()
		h.Stop()
	}
}

func TestRejectsAnyKey(t *testing.T) {
	got := sdktest.Validate(t, Plugin, "interval: 5s\n")
	want := []sdktest.Diagnostic{{Key: "interval", Line: 1, Message: "unknown key (this output takes no settings)"}}
	if !slices.Equal(got, want) {
		t.Fatalf("diagnostics = %q, want %q", got, want)
	}
	if got := sdktest.Validate(t, Plugin, "[1, 2]\n"); len(got) != 1 || got[0].Line != 1 {
		t.Fatalf("a list spec gave %q, want one diagnostic at line 1", got)
	}
}
