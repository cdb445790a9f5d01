package sdktest

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/sdk"
)

// CheckExamples returns the spec of every example of p's kind (p.Name) in
// the Markdown file at path, as SpecsFromMarkdown does, after asking the
// plugin to check each against the listener groups given (Validate). Every
// invalid example is reported, and then the test stops, so a test may go
// on to run the examples it gets back.
func CheckExamples(t testing.TB, p sdk.Plugin, path string, groups ...sdk.GroupInfo) []string {
	t.Helper()
	specs := SpecsFromMarkdown(t, path, p.Name)
	invalid := false
	for i, spec := range specs {
		if d := Validate(t, p, spec, groups...); len(d) != 0 {
			t.Errorf("%s: %s example %d is invalid: %v", path, p.Name, i+1, d)
			invalid = true
		}
	}
	if invalid {
		t.FailNow()
	}
	return specs
}

// SpecsFromMarkdown returns the spec of every output of the given kind in
// the ```yaml blocks of a Markdown file (a plugin's README), so that a test
// can run the documented examples and the documentation cannot rot. A block
// may be a listener configuration (with an `outputs` list) or just such a
// list. An absent or null spec is returned as "". The test fails when the
// file has no such example.
func SpecsFromMarkdown(t testing.TB, path, kind string) []string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	var specs []string
	for i, block := range yamlBlocks(string(text)) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(block), &doc); err != nil {
			t.Fatalf("sdktest: %s: yaml block %d: %v", path, i+1, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		outputs := root
		if root.Kind == yaml.MappingNode {
			outputs = valueOf(root, "outputs")
		}
		if outputs == nil || outputs.Kind != yaml.SequenceNode {
			continue
		}
		for _, o := range outputs.Content {
			if k := valueOf(o, "kind"); k == nil || k.Value != kind {
				continue
			}
			spec := valueOf(o, "spec")
			if spec == nil || (spec.Kind == yaml.ScalarNode && spec.ShortTag() == "!!null") {
				specs = append(specs, "")
				continue
			}
			var buf bytes.Buffer
			enc := yaml.NewEncoder(&buf)
			if err := enc.Encode(spec); err != nil {
				t.Fatalf("sdktest: %s: yaml block %d: %v", path, i+1, err)
			}
			_ = enc.Close()
			specs = append(specs, buf.String())
		}
	}
	if len(specs) == 0 {
		t.Fatalf("sdktest: %s has no ```yaml example with an output of kind %q", path, kind)
	}
	return specs
}

// yamlBlocks returns the contents of the ```yaml fenced blocks.
func yamlBlocks(md string) []string {
	var blocks []string
	var cur []string
	in := false
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && (trimmed == "```yaml" || trimmed == "```yml"):
			in, cur = true, nil
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

// valueOf returns the value of key in a mapping node, or nil.
func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
