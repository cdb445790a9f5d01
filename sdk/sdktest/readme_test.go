package sdktest

import (
	"slices"
	"testing"
)

func TestSpecsFromMarkdown(t *testing.T) {
	got := SpecsFromMarkdown(t, "testdata/readme.md", "demo")
	want := []string{"interval: 5s\nlist: [1, 2]\n", "", ""}
	if !slices.Equal(got, want) {
		t.Fatalf("SpecsFromMarkdown = %q, want %q", got, want)
	}
}
