package config_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/config"
)

// specNode returns outputs[i].spec of src as the YAML parser sees it in
// the whole file.
func specNode(t *testing.T, src []byte, i int) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	outputs := lookup(t, doc.Content[0], "outputs")
	item := outputs.Content[i]
	if item.Kind == yaml.AliasNode {
		item = item.Alias
	}
	return lookup(t, item, "spec")
}

func lookup(t *testing.T, m *yaml.Node, key string) *yaml.Node {
	t.Helper()
	for j := 0; j+1 < len(m.Content); j += 2 {
		if m.Content[j].Value == key {
			return m.Content[j+1]
		}
	}
	t.Fatalf("key %q not found at line %d", key, m.Line)
	return nil
}

// nodePos is what a plugin's error message can quote about a node.
type nodePos struct {
	kind         yaml.Kind
	tag, value   string
	line, column int
}

func positions(n *yaml.Node, out []nodePos) []nodePos {
	out = append(out, nodePos{n.Kind, n.ShortTag(), n.Value, n.Line, n.Column})
	for _, c := range n.Content {
		out = positions(c, out)
	}
	return out
}

// checkSpec decodes Output.Spec of outputs[i] and compares it with the
// spec as written in src: same values always; same line and column for
// every node when exact (the spec was cut from the file), same line for
// the spec's first node otherwise (it was re-encoded).
func checkSpec(t *testing.T, src []byte, cfg *config.Config, i int, exact bool) {
	t.Helper()
	orig := specNode(t, src, i)
	o := cfg.Outputs[i]
	var doc yaml.Node
	if err := yaml.Unmarshal(o.Spec, &doc); err != nil {
		t.Fatalf("outputs[%d].spec does not parse: %v\n%s", i, err, o.Spec)
	}
	if len(doc.Content) != 1 {
		t.Fatalf("outputs[%d].spec holds no node:\n%q", i, o.Spec)
	}
	got := doc.Content[0]
	var want, have any
	if err := orig.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if err := got.Decode(&have); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, have) {
		t.Errorf("outputs[%d].spec decodes to\n%#v\nwant\n%#v", i, have, want)
	}
	if o.SpecPos.Line != orig.Line || got.Line != orig.Line {
		t.Errorf("outputs[%d].spec starts at line %d (SpecPos %v), want %d", i, got.Line, o.SpecPos, orig.Line)
	}
	if exact {
		if gp, wp := positions(got, nil), positions(orig, nil); !reflect.DeepEqual(gp, wp) {
			t.Errorf("outputs[%d].spec node positions differ:\n got %v\nwant %v\ntext:\n%s", i, gp, wp, o.Spec)
		}
	}
}

func TestSpecReferenceExact(t *testing.T) {
	src, err := os.ReadFile("testdata/reference.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("reference.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	// outputs[0] (noop) has a null spec; the last one ends the file.
	for i := 1; i < len(cfg.Outputs); i++ {
		checkSpec(t, src, cfg, i, true)
	}
	for _, o := range cfg.Outputs {
		if strings.Contains(string(o.Spec), refPSK) {
			t.Errorf("outputs[%d].spec contains the PSK", o.Index)
		}
	}
}

// specCases are configurations whose every output's spec is checked.
var specCases = []struct {
	name  string
	src   string
	exact []bool // per output; false means re-encoded
	// absent must not occur in any Output.Spec; present must occur in
	// the Spec of the output with the same index ("" = no check).
	absent  []string
	present []string
}{
	{
		name: "flow style",
		src: base + `outputs:
  - kind: log
    spec: {interval: 5s}
  - kind: log
    spec: [a, "b", {c: d}]   # a comment after the spec
# CANARY comment between outputs
  - kind: log
    spec: {interval: 5s}
`,
		exact:  []bool{true, true, true},
		absent: []string{"CANARY"},
	},
	{
		name: "block scalars",
		src: base + `outputs:
  - kind: command
    spec:
      script: |
        #!/bin/sh
        echo "one"

        echo "two"
      folded: >-
        a long
        line
      kept: |+
        keep trailing newlines


  - kind: command
    spec:
      script: |
        echo done
        # this comment is part of the script
      # CANARY-1 this one is not
    # CANARY-2 nor this one

  - kind: log
    spec: |
      text spec
`,
		exact:   []bool{true, true, true},
		absent:  []string{"CANARY"},
		present: []string{"", "# this comment is part of the script", ""},
	},
	{
		name: "comments",
		src: base + `outputs:
  - kind: hostsfile
    spec:
      # a comment heading the spec
      interval: 5s # why five
      mappings:
        # per mapping
        - group: 1000 # the main group
          hostname: worker

        - group: 1001
          hostname: other
      # a foot comment, indented like the keys
groups:
  # CANARY group comment
  - id: 1000
    psk: ` + refPSK + `
    expire: 15s
`,
		exact:   []bool{true},
		absent:  []string{"CANARY", refPSK, "groups"},
		present: []string{"# per mapping"},
	},
	{
		name: "last output, then commented-out secrets",
		src: group1 + `outputs:
  - kind: dns
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    spec:
      bind_address: :8253
      compress: true
#  - id: 2
#    psk: ` + refPSK + `
...
# CANARY after the document end
`,
		exact:  []bool{true},
		absent: []string{refPSK, "CANARY", "..."},
	},
	{
		name: "scalars, tags and anchors inside the spec",
		src: base + `outputs:
  - kind: a
    spec: plain text
      continued on the next line
  - kind: b
    spec: !custom-tag
      x: &shared [1, 2]
      y: *shared
  - kind: c
    spec: &whole
      k: v
  - kind: d
    spec: "quoted
      across lines"
`,
		exact: []bool{true, true, true, true},
	},
	{
		name: "re-encoded when the text cannot be cut",
		src: base + `outputs:
  - {kind: log, spec: {interval: 5s}}
  - kind: log
    spec: &outer
      interval: 6s
  - kind: log
    spec: *outer
  - {kind: log, spec: {interval: 7s,
      extra: [a, b]}, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
  - kind: log
    spec: {uses: *outer}   # CANARY
`,
		exact:  []bool{false, true, false, false, false},
		absent: []string{"sha256", "CANARY", "kind"},
	},
}

func TestSpecLinePreserving(t *testing.T) {
	for _, tt := range specCases {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte(tt.src)
			cfg, err := config.Parse("rgap.yaml", src)
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			if len(cfg.Outputs) != len(tt.exact) {
				t.Fatalf("%d outputs, want %d", len(cfg.Outputs), len(tt.exact))
			}
			for i, exact := range tt.exact {
				checkSpec(t, src, cfg, i, exact)
				spec := string(cfg.Outputs[i].Spec)
				for _, s := range tt.absent {
					if strings.Contains(spec, s) {
						t.Errorf("outputs[%d].spec contains %q from outside the spec:\n%s", i, s, spec)
					}
				}
				if i < len(tt.present) && !strings.Contains(spec, tt.present[i]) {
					t.Errorf("outputs[%d].spec lacks %q:\n%s", i, tt.present[i], spec)
				}
				if exact && !strings.HasPrefix(strings.TrimLeft(spec, "\n "), firstLineText(src, cfg.Outputs[i].SpecPos)) {
					t.Errorf("outputs[%d].spec does not start with the spec's own text:\n%q", i, spec)
				}
			}
		})
	}
}

// firstLineText returns the rest of the line from p (which must be ASCII
// before p).
func firstLineText(src []byte, p config.Pos) string {
	line := strings.Split(string(src), "\n")[p.Line-1]
	return line[p.Column-1:]
}
