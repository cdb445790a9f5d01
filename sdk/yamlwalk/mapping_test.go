package yamlwalk

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func parseRoot(t *testing.T, src string) *yaml.Node {
	t.Helper()
	doc, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return Root(doc)
}

// pairsOf lists "name=value" for the entries of the mapping at key, and
// the problems reported as "line: path: message".
func pairsOf(t *testing.T, src, key string) (got, problems []string) {
	t.Helper()
	root := parseRoot(t, src)
	m := Mappings{Report: func(p Problem) {
		problems = append(problems, fmt.Sprintf("%d: %s: %s", p.Node.Line, p.Path, p.Msg))
	}}
	n := root
	if key != "" {
		for _, p := range m.Pairs(root, "") {
			if p.Name == key {
				n = p.Value
			}
		}
	}
	for _, p := range m.Pairs(n, key) {
		got = append(got, p.Name+"="+Deref(p.Value).Value)
	}
	return got, problems
}

func TestPairs(t *testing.T) {
	tests := []struct {
		name, src, key string
		want, problems []string
	}{
		{"file order", "b: 1\na: 2\n", "", []string{"b=1", "a=2"}, nil},
		{"explicit keys win over merged, earlier merges over later",
			"x: &x {a: 1, b: 1}\ny: &y {b: 2, c: 2}\nz:\n  <<: [*x, *y]\n  a: 3\n", "z",
			[]string{"a=3", "b=1", "c=2"}, nil},
		{"duplicate key", "a: 1\nb: 2\na: 3\n", "", []string{"a=1", "b=2"},
			[]string{`3: : duplicate key "a" (first at line 1)`}},
		{"key that is a list", "[a]: 1\nb: 2\n", "", []string{"b=2"},
			[]string{"1: : keys must be strings, got a list"}},
		{"merge of a scalar", "m:\n  <<: 5\n  a: 1\n", "m", []string{"a=1"},
			[]string{`2: m: merge key "<<" wants a mapping or a list of mappings, got "5"`}},
		{"merge of itself", "m: &m\n  a: 1\n  <<: *m\n", "m", []string{"a=1"},
			[]string{`3: m: merge key "<<" includes the mapping that contains it`}},
		{"secret key cut short", "5ec2e7c0ffee5ec2e7c0ffee: 1\n5ec2e7c0ffee5ec2e7c0ffee: 2\n", "",
			[]string{"5ec2e7c0ffee5ec2e7c0ffee=1"}, []string{`2: : duplicate key "5ec2e7c0..." (first at line 1)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := pairsOf(t, tt.src, tt.key)
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(problems, tt.problems) {
				t.Errorf("got %q, problems %q\nwant %q, problems %q", got, problems, tt.want, tt.problems)
			}
		})
	}
}

// TestPairsMergeChainIsLinear: each mapping merges the one before twice;
// expanding merges naively would take 2^60 steps.
func TestPairsMergeChainIsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString("m0: &m0 {a: 1}\n")
	const n = 60
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "m%d: &m%d {<<: [*m%d, *m%d], k%d: %d}\n", i, i, i-1, i-1, i, i)
	}
	root := parseRoot(t, b.String())
	var m Mappings
	var last []Pair
	for _, p := range m.Pairs(root, "") {
		last = m.Pairs(p.Value, p.Name)
	}
	if len(last) != n {
		t.Fatalf("the last mapping has %d entries, want %d", len(last), n)
	}
	if m.Steps > 10*n*n {
		t.Fatalf("Pairs took %d steps for %d mappings", m.Steps, n)
	}
}
