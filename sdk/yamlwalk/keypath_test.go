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
