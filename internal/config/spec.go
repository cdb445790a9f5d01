package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/redact"
	"github.com/rgap-project/rgap/sdk/yamlwalk"
)

// specSource cuts the text of outputs[i].spec out of the configuration
// file (see the package documentation for the method and its reasons).
type specSource struct {
	src []byte
	// textOK is false when src is not UTF-8 (yaml.v3 also reads UTF-16):
	// then columns cannot be mapped to byte offsets and every spec is
	// re-encoded instead.
	textOK bool
	// lineStarts[i] is the byte offset where line i+1 starts, line breaks
	// being counted the way the YAML parser counts them.
	lineStarts []int
	// order lists every node of the document in document order (pre-order,
	// aliases not followed); index is its inverse and end[i] is the index
	// just past the subtree of order[i].
	order []*yaml.Node
	index map[*yaml.Node]int
	end   []int
}

func newSpecSource(src []byte, doc *yaml.Node) *specSource {
	s := &specSource{src: src, textOK: utf8.Valid(src), index: make(map[*yaml.Node]int)}
	s.lineStarts = yamlwalk.LineStarts(src)
	s.walk(doc)
	return s
}

func (s *specSource) walk(n *yaml.Node) {
	i := len(s.order)
	s.order = append(s.order, n)
	s.end = append(s.end, 0)
	s.index[n] = i
	for _, c := range n.Content {
		s.walk(c)
	}
	s.end[i] = len(s.order)
}

// lineStart returns the offset of line l (from 1); a line past the end
// starts at len(src).
func (s *specSource) lineStart(l int) int {
	if l-1 < len(s.lineStarts) {
		return s.lineStarts[l-1]
	}
	return len(s.src)
}

// maxTrimAttempts bounds how many candidate texts sourceText checks when
// the spec's last lines look like comments but turn out to be content.
const maxTrimAttempts = 16

// extract returns the line-preserving text of spec node n: cut from the
// file when that reproduces n exactly, re-encoded otherwise.
func (s *specSource) extract(n *yaml.Node) ([]byte, error) {
	if s.textOK && n.Kind != yaml.AliasNode {
		if text, ok := s.sourceText(n); ok {
			return text, nil
		}
	}
	return reencode(n)
}

// sourceText cuts n's text out of the file: from n's first character up
// to the line holding the next node in document order (or the end of the
// file), without trailing blank and comment-only lines, which lie outside
// the spec and may hold anything (a commented-out PSK). The text is
// prefixed by line breaks and the characters before n on its first line
// are replaced by spaces, so every line and column stays where it was. It
// reports false unless parsing the text yields a tree identical to n
// (values, tags, styles, lines and columns), which rules out a flow spec
// sharing its last line with other nodes, aliases to anchors outside the
// spec, and any disagreement about where lines start.
func (s *specSource) sourceText(n *yaml.Node) ([]byte, bool) {
	i, ok := s.index[n]
	if !ok || n.Line < 1 || n.Column < 1 || n.Line > len(s.lineStarts) {
		return nil, false
	}
	first := n.Line
	next := len(s.lineStarts) + 1 // the line after the last one
	if s.end[i] < len(s.order) {
		next = s.order[s.end[i]].Line
	}
	if next <= first {
		return nil, false
	}
	// Find the byte offset of column n.Column; columns count characters.
	off, lineEnd := s.lineStart(first), s.lineStart(first+1)
	for c := 1; c < n.Column; c++ {
		if off >= lineEnd {
			return nil, false
		}
		_, size := utf8.DecodeRune(s.src[off:lineEnd])
		off += size
	}
	last := next - 1
	for last > first && trimmable(s.src[s.lineStart(last):s.lineStart(last+1)]) {
		last--
	}
	// Lines that look like comments may be the content of a block scalar
	// ("|" text whose last line starts with '#'): put lines back one at a
	// time until the tree comes out right. The first candidate that
	// verifies keeps only lines up to the spec's real last line.
	for attempt := 0; last < next && attempt < maxTrimAttempts; attempt, last = attempt+1, last+1 {
		text := make([]byte, 0, first-1+n.Column-1+s.lineStart(last+1)-off)
		text = append(text, bytes.Repeat([]byte{'\n'}, first-1)...)
		text = append(text, bytes.Repeat([]byte{' '}, n.Column-1)...)
		text = append(text, s.src[off:s.lineStart(last+1)]...)
		if reproduces(text, n) {
			return text, true
		}
	}
	return nil, false
}

// trimmable reports whether a line is blank, a comment or a document end
// marker, and so can be dropped from the end of a spec's text.
func trimmable(line []byte) bool {
	t := bytes.TrimLeft(line, " \t")
	t = bytes.TrimRight(t, " \t\r\n\u0085\u2028\u2029")
	switch {
	case len(t) == 0, t[0] == '#':
		return true
	case bytes.HasPrefix(t, []byte("...")):
		return len(t) == 3 || t[3] == ' ' || t[3] == '\t'
	}
	return false
}

// reproduces reports whether text parses as one document whose root is
// identical to n.
func reproduces(text []byte, n *yaml.Node) bool {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc, extra yaml.Node
	if yamlwalk.DecodeNode(dec, &doc) != nil || len(doc.Content) != 1 {
		return false
	}
	if err := yamlwalk.DecodeNode(dec, &extra); !errors.Is(err, io.EOF) {
		return false
	}
	return sameTree(n, doc.Content[0])
}

// sameTree compares two node trees by everything a decoder or an error
// message can see, comments excepted.
func sameTree(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value ||
		a.Anchor != b.Anchor || a.Line != b.Line || a.Column != b.Column || len(a.Content) != len(b.Content) {
		return false
	}
	if a.Kind == yaml.AliasNode {
		if a.Alias == nil || b.Alias == nil || a.Alias.Line != b.Alias.Line || a.Alias.Column != b.Alias.Column {
			return false
		}
	}
	for i := range a.Content {
		if !sameTree(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// maxReencodeNodes bounds the tree reencode builds, so aliases nested in
// aliases cannot expand a small file into gigabytes.
const maxReencodeNodes = 1 << 16

// errSpecTooLarge is the cause when a spec's aliases expand too far.
var errSpecTooLarge = fmt.Errorf("spec expands to more than %d YAML nodes through aliases", maxReencodeNodes)

// reencode is the fallback: n is re-encoded with aliases expanded and
// comments dropped, after n.Line-1 line breaks, so its first line keeps
// its number (later lines may move).
func reencode(n *yaml.Node) ([]byte, error) {
	budget := maxReencodeNodes
	c, err := plainCopy(n, &budget, make(map[*yaml.Node]bool))
	if err != nil {
		return nil, err
	}
	out, err := yamlwalk.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("cannot re-encode spec: %w", err)
	}
	return append(bytes.Repeat([]byte{'\n'}, max(n.Line-1, 0)), out...), nil
}

// plainCopy copies n with aliases replaced by copies of what they name and
// without comments or anchors.
func plainCopy(n *yaml.Node, budget *int, active map[*yaml.Node]bool) (*yaml.Node, error) {
	if *budget--; *budget < 0 {
		return nil, errSpecTooLarge
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || active[n.Alias] {
			return nil, fmt.Errorf("alias *%s refers to a node that contains it", redact.Shorten(n.Value))
		}
		active[n.Alias] = true
		defer delete(active, n.Alias)
		return plainCopy(n.Alias, budget, active)
	}
	active[n] = true
	defer delete(active, n)
	c := &yaml.Node{Kind: n.Kind, Style: n.Style, Tag: n.Tag, Value: n.Value}
	for _, child := range n.Content {
		cc, err := plainCopy(child, budget, active)
		if err != nil {
			return nil, err
		}
		c.Content = append(c.Content, cc)
	}
	return c, nil
}
