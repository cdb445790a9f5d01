package yamlwalk

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseSyntaxError(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		line       int // the real line
		parserLine int // yaml.v3's
		msg        string
	}{
		// yaml.v3 names the line where the broken mapping starts.
		{"bad indent", "mappings:\n  - group: 1000\n hostname: [\n", 3, 2, "did not find expected key"},
		// yaml.v3 leaves out the line when the problem is on the first.
		{"first line", "a: b: c\n", 1, 0, "mapping values are not allowed in this context"},
		// yaml.v3 names no line for an unknown anchor; the name is cut short.
		{"unknown anchor", "a: 1\nb: 2\nc: *5ec2e7c0ffee5ec2e7c0ffee\n", 3, 0, "unknown anchor '5ec2e7c0...' referenced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(tt.src))
			var se *SyntaxError
			if doc != nil || !errors.As(err, &se) {
				t.Fatalf("Parse = %v, %v; want a *SyntaxError", doc, err)
			}
			if se.Line != tt.line || se.ParserLine != tt.parserLine || se.Msg != tt.msg {
				t.Errorf("got line %d, parser line %d, %q; want %d, %d, %q", se.Line, se.ParserLine, se.Msg, tt.line, tt.parserLine, tt.msg)
			}
			if se.Error() != "invalid YAML: "+tt.msg {
				t.Errorf("Error() = %q", se.Error())
			}
		})
	}
}

func TestParseDocuments(t *testing.T) {
	for _, src := range []string{"", "  \n", "# only a comment\n"} {
		if doc, err := Parse([]byte(src)); doc != nil || err != nil {
			t.Errorf("Parse(%q) = %v, %v; want no document and no error", src, doc, err)
		}
	}
	for _, src := range []string{"~\n", "null\n", "--- \n"} {
		doc, err := Parse([]byte(src))
		if err != nil || doc == nil || Root(doc) != nil {
			t.Errorf("Parse(%q) = %v, %v; want a document whose Root is nil", src, doc, err)
		}
	}
	doc, err := Parse([]byte("a: 1\n---\nb: 2\n"))
	var second *SecondDocumentError
	if doc != nil || !errors.As(err, &second) || second.Doc.Line != 2 {
		t.Fatalf("Parse of two documents = %v, %v; want a *SecondDocumentError at line 2", doc, err)
	}
	doc, err = Parse([]byte("x: &a {k: v}\ny: *a\n"))
	if err != nil || Root(doc).Kind != yaml.MappingNode {
		t.Fatalf("Parse = %v, %v", doc, err)
	}
}

// TestSyntaxLineBudget: past the budget the search gives up and the
// parser's line stands.
func TestSyntaxLineBudget(t *testing.T) {
	src := "a: b: c\n" + strings.Repeat("k: v\n", syntaxBudget/len("k: v\n")+1)
	if line, ok := syntaxLine([]byte(src)); ok || line != 0 {
		t.Fatalf("syntaxLine = %d, %v; want it to give up", line, ok)
	}
}

func TestLineStarts(t *testing.T) {
	got := LineStarts([]byte("a\r\nb\rc\nd\u0085e\u2028f"))
	want := []int{0, 3, 5, 7, 10, 14}
	if len(got) != len(want) {
		t.Fatalf("LineStarts = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("LineStarts = %v, want %v", got, want)
		}
	}
}
