package yamlwalk

import (
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/redact"
)

// IsNull reports whether n is absent or a YAML null ("~", "null", nothing),
// aliases followed.
func IsNull(n *yaml.Node) bool {
	n = Deref(n)
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Deref follows an alias to the node it names. (An anchored node is never
// an alias itself, so one step is enough.)
func Deref(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// Quote returns s in Go quotes, cut after redact.MaxQuoted characters and
// then marked "...": Quote("8f1302643b08...") is "\"8f130264...\"".
func Quote(s string) string { return strconv.Quote(redact.Shorten(s)) }

// Describe names n for a "got ..." message: "null", "a mapping", "a list",
// or a scalar's value as written, quoted and cut short (Quote).
func Describe(n *yaml.Node) string {
	if s, ok := describeNonScalar(n); ok {
		return s
	}
	return Quote(Deref(n).Value)
}

// DescribeTyped is Describe naming a scalar's YAML type too, for decoders
// where the type decides (`string "5"` is not `integer 5`).
func DescribeTyped(n *yaml.Node) string {
	if s, ok := describeNonScalar(n); ok {
		return s
	}
	n = Deref(n)
	v := redact.Shorten(n.Value)
	switch n.ShortTag() {
	case "!!str":
		return "string " + strconv.Quote(v)
	case "!!int":
		return "integer " + v
	case "!!float":
		return "number " + v
	case "!!bool":
		return "boolean " + v
	}
	return n.ShortTag() + " " + strconv.Quote(v)
}

func describeNonScalar(n *yaml.Node) (string, bool) {
	n = Deref(n)
	switch {
	case IsNull(n):
		return "null", true
	case n.Kind == yaml.MappingNode:
		return "a mapping", true
	case n.Kind == yaml.SequenceNode:
		return "a list", true
	case n.Kind == yaml.ScalarNode:
		return "", false
	case n.Kind == yaml.AliasNode:
		return "an alias to nothing", true
	}
	return "a YAML document", true
}
