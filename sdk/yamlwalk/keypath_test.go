package yamlwalk

import "testing"

// TestKeyPathRoundTrip (moved from sdk/decode_test.go with the code it
// tests): ParseKeyPath splits what JoinKey joined.
func TestKeyPathRoundTrip(t *testing.T) {
	for _, keys := range [][]string{{"a"}, {"a", "b.c"}, {"x y", "]", `"q"`}, {"mappings"}} {
		path := ""
		for _, k := range keys {
			path = JoinKey(path, k)
		}
		segs, ok := ParseKeyPath(path)
		if !ok || len(segs) != len(keys) {
			t.Fatalf("ParseKeyPath(%q) = %v, %v", path, segs, ok)
		}
		for i, s := range segs {
			if s.Key != keys[i] {
				t.Errorf("ParseKeyPath(%q)[%d] = %q, want %q", path, i, s.Key, keys[i])
			}
		}
	}
}

// TestLineOf: a path finds the line of its last key or item, through
// aliases; what does not resolve falls back to its deepest part that does.
func TestLineOf(t *testing.T) {
	root := parseRoot(t, "top: 1\nlist: &l\n  - a: 1\n    \"b.c\": 2\n  - x\nagain: *l\n")
	for path, line := range map[string]int{
		"top":            1,
		"list[0].a":      3,
		`list[0]["b.c"]`: 4,
		"list[1]":        5,
		"list[0].absent": 3, // the mapping that lacks it
		"list[7]":        2,
		"again[1]":       5, // through the alias
		"absent":         1, // the root
		"..":             1, // not a path
	} {
		if got := LineOf(root, path); got != line {
			t.Errorf("LineOf(%q) = %d, want %d", path, got, line)
		}
	}
	if LineOf(nil, "a") != 0 {
		t.Errorf("LineOf(nil) is not 0")
	}
}
