package yamlwalk

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// JoinKey appends a mapping key to a key path: `a.b` for a plain key
// (letters, digits, '_' and '-'), `a["b.c"]` for a key holding other
// characters, so that ParseKeyPath can split the path again.
func JoinKey(path, key string) string {
	if isPlainKey(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// Index appends a list index to a key path: `a[3]`.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func isPlainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r != '_' && r != '-' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Segment is one step of a key path: a mapping key, or a list index when
// IsIndex is set.
type Segment struct {
	Key     string
	Index   int
	IsIndex bool
}

// ParseKeyPath splits `a.b[0]["c.d"]` into its steps; ok is false when p
// is not a path JoinKey and Index could have written.
func ParseKeyPath(p string) (segs []Segment, ok bool) {
	for p != "" {
		switch p[0] {
		case '.':
			p = p[1:]
			if p == "" || p[0] == '.' || p[0] == '[' {
				return nil, false
			}
		case '[':
			seg, n, ok := bracketSegment(p)
			if !ok {
				return nil, false
			}
			segs = append(segs, seg)
			p = p[n:]
			continue
		}
		end := strings.IndexAny(p, ".[")
		if end < 0 {
			end = len(p)
		}
		if end == 0 {
			return nil, false
		}
		segs = append(segs, Segment{Key: p[:end]})
		p = p[end:]
	}
	return segs, true
}

// bracketSegment reads `[3]` or `["c.d"]` at the start of p and returns it
// and its length.
func bracketSegment(p string) (Segment, int, bool) {
	end := strings.IndexByte(p, ']')
	if end < 0 {
		return Segment{}, 0, false
	}
	inner := p[1:end]
	if strings.HasPrefix(inner, `"`) {
		// A quoted key may itself hold ']': find the closing quote.
		q, err := strconv.QuotedPrefix(p[1:])
		if err != nil || len(p) < len(q)+2 || p[1+len(q)] != ']' {
			return Segment{}, 0, false
		}
		k, _ := strconv.Unquote(q)
		return Segment{Key: k}, len(q) + 2, true
	}
	i, err := strconv.Atoi(inner)
	if err != nil || i < 0 {
		return Segment{}, 0, false
	}
	return Segment{Index: i, IsIndex: true}, end + 1, true
}

// LineOf finds the line of a key path (as JoinKey and Index write it)
// below root: the line of the last key, or list item, it names. A path
// that does not resolve fully gets the line of its deepest part that does,
// so a missing key points at the mapping that lacks it; a path that does
// not parse gets root's line. It returns 0 for a nil root.
func LineOf(root *yaml.Node, path string) int {
	if root == nil {
		return 0
	}
	n, line := root, root.Line
	segs, ok := ParseKeyPath(path)
	if !ok {
		return line
	}
	for _, s := range segs {
		n = Deref(n)
		var next *yaml.Node
		switch {
		case s.IsIndex && n.Kind == yaml.SequenceNode && s.Index < len(n.Content):
			next = n.Content[s.Index]
			line = next.Line
		case !s.IsIndex && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == s.Key {
					next = n.Content[i+1]
					line = k.Line
					break
				}
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}
