package sdk

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestDecodeMergeChain: merge keys nest as deep as the spec writes them
// (the listener's configuration allows it too), at linear cost.
func TestDecodeMergeChain(t *testing.T) {
	var b strings.Builder
	b.WriteString("domains:\n  m0: &m0 {group: 7}\n")
	const n = 40
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  m%d: &m%d {<<: [*m%d, *m%d], hostname: h%d}\n", i, i, i-1, i-1, i)
	}
	var s testSpec
	if err := decodeText(t, b.String(), 0, &s); err != nil {
		t.Fatal(err)
	}
	if got := s.Domains[fmt.Sprint("m", n-1)]; got.Group != 7 || got.Hostname != fmt.Sprint("h", n-1) {
		t.Fatalf("last mapping = %+v; want group 7 merged through %d levels", got, n)
	}
}

// TestDecodeParseErrorLines: a spec text is one YAML document, and a
// syntax error is reported at the line it is on, also when yaml.v3 names
// no line.
func TestDecodeParseErrorLines(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int // OutputSpec.line
		want string
	}{
		{"second document", "retries: 1\n---\nretries: 2\n", 0,
			"rgap.yaml:2: a second YAML document starts here; the spec must be a single document"},
		{"second document, compact text", "retries: 1\n---\nretries: 2\n", 40,
			"rgap.yaml:41: a second YAML document starts here; the spec must be a single document"},
		{"unknown anchor", "retries: 1\ncompress: true\nbind: *nowhere\n", 0,
			"rgap.yaml:3: invalid YAML: unknown anchor 'nowhere' referenced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testSpec
			err := decodeText(t, tt.text, tt.line, &s)
			var de *DecodeError
			if !errors.As(err, &de) || de.Error() != tt.want {
				t.Fatalf("Decode = %v; want %q", err, tt.want)
			}
		})
	}
}

// mergeBomb nests without end, through lists and merged mappings.
type mergeBomb map[string][]mergeBomb

// TestDecodeMergeBomb: aliases and merge keys together cannot expand a
// small spec into unbounded work; the budget stops it.
func TestDecodeMergeBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 {k0: [], k1: [], k2: [], k3: [], k4: [], k5: [], k6: [], k7: [], k8: [], k9: []}\n")
	for i := 1; i < 9; i++ {
		p := fmt.Sprintf("*a%d", i-1)
		ten := strings.TrimSuffix(strings.Repeat(p+", ", 10), ", ")
		fmt.Fprintf(&b, "a%d: &a%d {<<: [%s], l%d: [%s]}\n", i, i, ten, i, ten)
	}
	var v map[string]mergeBomb
	err := decodeText(t, b.String(), 0, &v)
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("Decode of a merge bomb = %v; want a too-large error", err)
	}
}

// mergeWork is decoded from a spec whose merge keys cost far more work
// than the values they yield.
type mergeWork struct {
	S map[string]*int   `yaml:"s"`
	M map[string]*int   `yaml:"m"`
	U []map[string]*int `yaml:"u"`
}

// TestDecodeMergeWorkCounts: the entries merge keys make the decoder look
// at count against its budget, not just the values decoded. Here m merges
// the 1000 keys of s a thousand times over and is used 61 times: 122k
// values and keys to decode, within the budget, but 61M merged entries to
// look at.
func TestDecodeMergeWorkCounts(t *testing.T) {
	var b strings.Builder
	b.WriteString("s: &s {")
	for i := range 1000 {
		fmt.Fprintf(&b, "k%d: ~, ", i)
	}
	b.WriteString("}\nm: &m {<<: [" + strings.TrimSuffix(strings.Repeat("*s, ", 1000), ", ") + "]}\n")
	b.WriteString("u: [" + strings.TrimSuffix(strings.Repeat("*m, ", 60), ", ") + "]\n")
	var v mergeWork
	err := decodeText(t, b.String(), 0, &v)
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("Decode = %v; want a too-large error", err)
	}
}
