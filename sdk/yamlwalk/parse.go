package yamlwalk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/redact"
)

// SyntaxError is text that is not YAML.
type SyntaxError struct {
	// Line is the line of the mistake, from 1: the line after the longest
	// run of whole leading lines that parses. It is ParserLine when that
	// search would cost too much, and 0 when neither is known.
	Line int
	// ParserLine is the line yaml.v3 names in its message (often where the
	// enclosing block began); 0 when the message names none.
	ParserLine int
	// Msg is yaml.v3's message without its "yaml: line N:" prefix, every
	// quoted token in it (an anchor name, say) cut short.
	Msg string
}

// Error returns "invalid YAML: " and the parser's message.
func (e *SyntaxError) Error() string { return "invalid YAML: " + e.Msg }

// SecondDocumentError is text holding more than one YAML document.
type SecondDocumentError struct {
	// Doc is the second document; Doc.Line is where it starts.
	Doc *yaml.Node
}

func (e *SecondDocumentError) Error() string {
	return fmt.Sprintf("line %d: a second YAML document starts here", e.Doc.Line)
}

// Parse parses src, which must hold at most one YAML document, and returns
// its document node: nil when src holds no document (it is empty, blank or
// only comments). A syntax error is a *SyntaxError, a second document a
// *SecondDocumentError. A panic in the parser is a *SyntaxError too: no
// text may crash the process that reads it.
func Parse(src []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var first yaml.Node
	if err := DecodeNode(dec, &first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(src, err)
	}
	var second yaml.Node
	switch err := DecodeNode(dec, &second); {
	case errors.Is(err, io.EOF):
		return &first, nil
	case err != nil:
		return nil, syntaxError(src, err)
	}
	return nil, &SecondDocumentError{Doc: &second}
}

// Root returns the value of document doc, aliases followed; nil when doc
// is nil or its value is null.
func Root(doc *yaml.Node) *yaml.Node {
	if doc == nil || len(doc.Content) != 1 {
		return nil
	}
	root := Deref(doc.Content[0])
	if IsNull(root) {
		return nil
	}
	return root
}

// DecodeNode reads the next document of dec into n, turning a panic in the
// parser into an error.
func DecodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failure: %v", r)
		}
	}()
	return dec.Decode(n)
}

// Marshal encodes n, turning a panic in the encoder into an error.
func Marshal(n *yaml.Node) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml encoder failure: %v", r)
		}
	}()
	return yaml.Marshal(n)
}

// parserLine splits yaml.v3 error text into its line number and message.
var parserLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// quotedInParserError is a quoted token in a yaml.v3 message (an anchor
// name, a tag, a character), which repeats what the file says.
var quotedInParserError = regexp.MustCompile(`'[^']*'`)

func syntaxError(src []byte, err error) *SyntaxError {
	e := &SyntaxError{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := parserLine.FindStringSubmatch(err.Error()); m != nil {
		if l, perr := strconv.Atoi(m[1]); perr == nil {
			e.ParserLine, e.Msg = l, m[2]
		}
	}
	e.Msg = quotedInParserError.ReplaceAllStringFunc(e.Msg, func(q string) string {
		return "'" + redact.Shorten(q[1:len(q)-1]) + "'"
	})
	e.Line = e.ParserLine
	if line, ok := syntaxLine(src); ok {
		e.Line = line
	}
	return e
}

// syntaxBudget bounds the bytes syntaxLine may parse in all.
const syntaxBudget = 8 << 20

// syntaxLine locates a syntax error in src, which does not parse: it is on
// the line after the longest run of whole leading lines that does parse.
// (The first prefix that fails is not the answer: cutting a file inside a
// quoted string or a flow list breaks it where nothing is wrong.) ok is
// false when the search would parse more than syntaxBudget bytes.
func syntaxLine(src []byte) (line int, ok bool) {
	starts := LineStarts(src)
	budget := syntaxBudget
	for k := len(starts) - 1; k > 0; k-- {
		prefix := src[:starts[k]] // lines 1..k
		if budget -= len(prefix); budget < 0 {
			return 0, false
		}
		if parses(prefix) {
			return k + 1, true
		}
	}
	return 1, true
}

// parses reports whether every YAML document in src parses.
func parses(src []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := DecodeNode(dec, &n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// LineStarts returns the offset of the start of every line of src. Like
// YAML, it takes "\r\n", "\r", "\n", NEL, LS and PS as line breaks.
func LineStarts(src []byte) []int {
	starts := []int{0}
	for i := 0; i < len(src); i++ {
		switch {
		case src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n':
			i++
		case src[i] == '\r' || src[i] == '\n':
		case bytes.HasPrefix(src[i:], []byte("\u0085")):
			i++
		case bytes.HasPrefix(src[i:], []byte("\u2028")), bytes.HasPrefix(src[i:], []byte("\u2029")):
			i += 2
		default:
			continue
		}
		starts = append(starts, i+1)
	}
	return starts
}
