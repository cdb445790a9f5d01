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

func TestLineOf(t *testing.T) {
	root := parseRoot(t, "\n\nmappings: &m\n  - group: 1\n    hostname: a\n  - group: 2\ndomains:\n  w.example.com:\n    group: 3\nlater: *m\n")
	tests := []struct {
		path string
		line int
	}{
		{"mappings[1].group", 6},
		{"mappings[1].hostname", 6}, // missing: the mapping that lacks it
		{"mappings[0].hostname", 5},
		{`domains["w.example.com"].group`, 9},
		{"nothing", 3},
		{"mappings[9]", 3},
		{"", 3},
		{"[[[", 3},
		{"later[1].group", 6}, // through the alias
	}
	for _, tt := range tests {
		if got := LineOf(root, tt.path); got != tt.line {
			t.Errorf("LineOf(%q) = %d, want %d", tt.path, got, tt.line)
		}
	}
	if LineOf(nil, "a") != 0 {
		t.Errorf("LineOf(nil) is not 0")
	}
}
