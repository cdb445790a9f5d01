package yamlwalk

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Pair is one entry of a mapping, after merge keys have been applied.
type Pair struct {
	// Name is the key as written (the value of Key, aliases followed).
	Name string
	// Key is the key's node, where a problem with the key is reported.
	Key *yaml.Node
	// Value is the value's node; it may be an alias.
	Value *yaml.Node
}

// ProblemKind tells the problems Pairs reports apart.
type ProblemKind int

const (
	// KeyNotString is a key that is a mapping or a list.
	KeyNotString ProblemKind = iota + 1
	// DuplicateKey is a key written twice in one mapping.
	DuplicateKey
	// MergeNotMapping is a merge key whose value is not a mapping or a
	// list of mappings.
	MergeNotMapping
	// MergeCycle is a merge key that includes the mapping holding it.
	MergeCycle
)

// Problem is something wrong with a mapping's keys.
type Problem struct {
	Kind ProblemKind
	// Node is where the problem is: the key, or the merge key's value.
	Node *yaml.Node
	// Path is the key path of the mapping.
	Path string
	// Name and First are, for a DuplicateKey, the key and where it was
	// first written.
	Name  string
	First *yaml.Node
	// Msg words the problem; every value it repeats is cut short.
	Msg string
}

// Mappings lists the entries of mappings, reporting each problem with
// their keys to Report. The zero value reports nothing. One Mappings
// remembers the entries of every mapping used as a merge source, so that
// nested merges ("<<: [*a, *a]" on every level) cost linear time and their
// problems are reported once.
type Mappings struct {
	Report func(Problem)
	// Steps counts the entries Pairs has looked at, merged ones included,
	// for a caller that bounds its work (aliases can make a small text
	// name the same mappings without end).
	Steps  int
	merged map[*yaml.Node][]Pair
}

func (m *Mappings) report(p Problem) {
	if m.Report != nil {
		m.Report(p)
	}
}

// Pairs returns the entries of mapping n (aliases followed) in file order,
// applying merge keys the way yaml.v3 decoding does: keys written in n win,
// then earlier merge sources over later ones. A duplicate key, a key that
// is not a scalar, and a bad merge are reported and left out.
func (m *Mappings) Pairs(n *yaml.Node, path string) []Pair {
	return m.pairs(Deref(n), path, nil)
}

// pairs is Pairs; visiting holds the mappings being expanded, to catch a
// merge that includes itself.
func (m *Mappings) pairs(n *yaml.Node, path string, visiting map[*yaml.Node]bool) []Pair {
	var out []Pair
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	var merges []*yaml.Node
	m.Steps += len(n.Content) / 2
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kd := Deref(k)
		if kd.Kind == yaml.ScalarNode && kd.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if kd.Kind != yaml.ScalarNode {
			m.report(Problem{Kind: KeyNotString, Node: k, Path: path,
				Msg: "keys must be strings, got " + Describe(kd)})
			continue
		}
		if prev, dup := seen[kd.Value]; dup {
			m.report(Problem{Kind: DuplicateKey, Node: k, Path: path, Name: kd.Value, First: prev,
				Msg: fmt.Sprintf("duplicate key %s (first at line %d)", Quote(kd.Value), prev.Line)})
			continue
		}
		seen[kd.Value] = k
		out = append(out, Pair{Name: kd.Value, Key: k, Value: v})
	}
	if len(merges) == 0 {
		return out
	}
	if visiting == nil {
		visiting = make(map[*yaml.Node]bool)
	}
	visiting[n] = true
	defer delete(visiting, n)
	for _, merge := range merges {
		for _, src := range m.mergeSources(merge, path, visiting) {
			m.Steps += len(src)
			for _, p := range src {
				if _, dup := seen[p.Name]; !dup {
					seen[p.Name] = p.Key
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// mergeSources returns the entries of each mapping a merge key's value
// names, in order.
func (m *Mappings) mergeSources(merge *yaml.Node, path string, visiting map[*yaml.Node]bool) [][]Pair {
	md := Deref(merge)
	var sources []*yaml.Node
	switch md.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{md}
	case yaml.SequenceNode:
		for _, s := range md.Content {
			sources = append(sources, Deref(s))
		}
	}
	if len(sources) == 0 {
		m.report(Problem{Kind: MergeNotMapping, Node: merge, Path: path,
			Msg: `merge key "<<" wants a mapping or a list of mappings, got ` + Describe(md)})
		return nil
	}
	var out [][]Pair
	for _, s := range sources {
		if s.Kind != yaml.MappingNode {
			m.report(Problem{Kind: MergeNotMapping, Node: merge, Path: path,
				Msg: `merge key "<<" wants a mapping or a list of mappings, got ` + Describe(s)})
			continue
		}
		if visiting[s] {
			m.report(Problem{Kind: MergeCycle, Node: merge, Path: path,
				Msg: `merge key "<<" includes the mapping that contains it`})
			continue
		}
		sp, done := m.merged[s]
		if !done {
			sp = m.pairs(s, path, visiting)
			if m.merged == nil {
				m.merged = make(map[*yaml.Node][]Pair)
			}
			m.merged[s] = sp
		}
		out = append(out, sp)
	}
	return out
}
