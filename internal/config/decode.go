package config

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
)

// decoder walks the yaml.Node tree of one file, filling a Config and
// collecting every problem instead of stopping at the first.
type decoder struct {
	path string
	src  []byte
	errs []*Error
	// warnings are formatted as they are found.
	warnings []string
	specs    *specSource // built on the first non-null spec
	doc      *yaml.Node
	// merged caches the fields of mappings used as merge sources, so
	// nested "<<: [*a, *a]" costs linear, not exponential, time.
	merged map[*yaml.Node][]field
	// specBytes is the total size of the spec texts so far.
	specBytes int
}

// field is one key/value pair of a mapping, after merge keys ("<<") have
// been applied.
type field struct {
	name  string
	key   *yaml.Node
	value *yaml.Node
}

func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.path, Line: n.Line, Column: n.Column}
}

// fail records a problem at node n (or at the file when n is nil).
func (d *decoder) fail(n *yaml.Node, key string, kind error, cause error, format string, args ...any) {
	p := Pos{File: d.path}
	if n != nil {
		p = d.pos(n)
	}
	d.errs = append(d.errs, &Error{Pos: p, Key: key, Err: &problem{kind: kind, msg: fmt.Sprintf(format, args...), cause: cause}})
}

func (d *decoder) warn(n *yaml.Node, key, format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf("%s: %s: %s", d.pos(n), key, fmt.Sprintf(format, args...)))
}

func (d *decoder) decode() *Config {
	cfg := &Config{Path: d.path}
	doc := d.parseDocuments()
	if doc == nil {
		return nil
	}
	d.doc = doc
	var root *yaml.Node
	if len(doc.Content) == 1 {
		root = deref(doc.Content[0])
	}
	if isNull(root) {
		d.fail(nil, "", ErrEmpty, nil, "configuration is empty")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.fail(root, "", ErrType, nil, "the top level must be a mapping, got %s", describe(root))
		return nil
	}
	var listenSeen bool
	for _, f := range d.fields(root, "", nil) {
		switch f.name {
		case "listen":
			listenSeen = true
			cfg.Listen = d.listen(f)
		case "groups":
			cfg.Groups = d.groups(f)
		case "outputs":
			cfg.Outputs = d.outputs(f)
		case "plugins_dir":
			cfg.PluginsDir = d.pathKey(f)
		case "state_file":
			cfg.StateFile = d.pathKey(f)
		case "receive_buffer":
			cfg.ReceiveBuffer = d.receiveBuffer(f)
		case "http_listen":
			cfg.HTTPListen = d.httpListen(f)
		default:
			d.fail(f.key, "", ErrUnknownKey, nil, "unknown key %s%s", quote(f.name), suggest(f.name, topKeys))
		}
	}
	if !listenSeen {
		d.fail(root, "", ErrMissingKey, nil, "missing required key %q (at least one address to listen on is needed)", "listen")
	}
	if len(cfg.Groups) == 0 && len(d.errs) == 0 {
		d.warn(root, "groups", "no groups are configured: every announcement will be dropped")
	}
	cfg.Warnings = d.warnings
	return cfg
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type (and, for scalars, the first few characters
// of its value: see quote) for "got ..." messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case isNull(n):
		return "null"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return quote(n.Value)
	}
	return "an unexpected node"
}

func indexed(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func dotted(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields returns the key/value pairs of mapping n in file order, applying
// merge keys the way yaml.v3 decoding does (keys written in n win, then
// earlier merge sources over later ones) and reporting duplicate and
// non-scalar keys. visiting guards against a merge that includes itself.
func (d *decoder) fields(n *yaml.Node, path string, visiting map[*yaml.Node]bool) []field {
	var out []field
	seen := make(map[string]*yaml.Node)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kd := deref(k)
		if kd.Kind == yaml.ScalarNode && kd.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if kd.Kind != yaml.ScalarNode {
			d.fail(k, path, ErrType, nil, "keys must be strings, got %s", describe(kd))
			continue
		}
		if prev, dup := seen[kd.Value]; dup {
			d.fail(k, path, ErrDuplicate, nil, "duplicate key %s (first at line %d)", quote(kd.Value), prev.Line)
			continue
		}
		seen[kd.Value] = k
		out = append(out, field{name: kd.Value, key: k, value: v})
	}
	if len(merges) == 0 {
		return out
	}
	if visiting == nil {
		visiting = make(map[*yaml.Node]bool)
	}
	visiting[n] = true
	defer delete(visiting, n)
	for _, m := range merges {
		md := deref(m)
		var sources []*yaml.Node
		switch md.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{md}
		case yaml.SequenceNode:
			for _, s := range md.Content {
				sources = append(sources, deref(s))
			}
		}
		for _, s := range sources {
			if s.Kind != yaml.MappingNode {
				d.fail(m, path, ErrType, nil, "merge key \"<<\" wants a mapping or a list of mappings, got %s", describe(s))
				continue
			}
			if visiting[s] {
				d.fail(m, path, ErrValue, nil, "merge key \"<<\" includes the mapping that contains it")
				continue
			}
			sf, done := d.merged[s]
			if !done {
				sf = d.fields(s, path, visiting)
				if d.merged == nil {
					d.merged = make(map[*yaml.Node][]field)
				}
				d.merged[s] = sf
			}
			for _, f := range sf {
				if _, dup := seen[f.name]; !dup {
					seen[f.name] = f.key
					out = append(out, f)
				}
			}
		}
		if len(sources) == 0 {
			d.fail(m, path, ErrType, nil, "merge key \"<<\" wants a mapping or a list of mappings, got %s", describe(md))
		}
	}
	return out
}

// mapping checks that n is a mapping and returns its fields.
func (d *decoder) mapping(n *yaml.Node, path string) ([]field, bool) {
	nd := deref(n)
	if nd.Kind != yaml.MappingNode {
		d.fail(n, path, ErrType, nil, "want a mapping, got %s", describe(nd))
		return nil, false
	}
	return d.fields(nd, path, nil), true
}

// list checks that f's value is a list (null counts as empty) and returns
// its items.
func (d *decoder) list(f field, what string) []*yaml.Node {
	v := deref(f.value)
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		d.fail(f.value, f.name, ErrType, nil, "want a list of %s, got %s", what, describe(v))
		return nil
	}
	return v.Content
}

// str decodes a string value. Like yaml.v3 decoding into a string, any
// scalar is accepted as written (kind: 123 is the string "123"); null and
// collections are not.
func (d *decoder) str(n *yaml.Node, key string) (string, bool) {
	nd := deref(n)
	if nd.Kind != yaml.ScalarNode || isNull(nd) {
		d.fail(n, key, ErrType, nil, "want a string, got %s", describe(nd))
		return "", false
	}
	return nd.Value, true
}

// unsigned decodes an unsigned integer. Only YAML integers are accepted
// (1000, 0x3e8, 1_000); unlike yaml.v3 decoding into a uint64, a float
// such as 1000.5 is an error rather than silently truncated.
func (d *decoder) unsigned(n *yaml.Node, key string) (uint64, bool) {
	nd := deref(n)
	var v uint64
	if nd.Kind != yaml.ScalarNode || nd.ShortTag() != "!!int" || nd.Decode(&v) != nil {
		d.fail(n, key, ErrType, nil, "want an unsigned integer, got %s", describe(nd))
		return 0, false
	}
	return v, true
}

// durationSyntax matches what time.ParseDuration reads; a string that
// matches and still fails to parse is out of range.
var durationSyntax = regexp.MustCompile(`^[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+$`)

// duration decodes a Go duration string such as "15s" or "1m30s". A bare
// integer is accepted only when it is 0: yaml.v3, which the reference
// implementation decodes with, rejects integers for time.Duration, and
// reading "expire: 15" as 15 nanoseconds would silently expire every
// address at once. Negative durations are errors.
func (d *decoder) duration(n *yaml.Node, key string) (time.Duration, bool) {
	nd := deref(n)
	if nd.Kind == yaml.ScalarNode {
		switch nd.ShortTag() {
		case "!!str":
			v, err := time.ParseDuration(nd.Value)
			if err != nil && durationSyntax.MatchString(nd.Value) && !strings.HasPrefix(nd.Value, "-") {
				d.fail(n, key, ErrValue, nil, "duration %s is longer than the longest possible, %s (about 292 years)",
					describe(nd), time.Duration(math.MaxInt64))
				return 0, false
			}
			if err != nil {
				d.fail(n, key, ErrType, nil, "want a duration such as \"15s\" or \"1m30s\", got %s", describe(nd))
				return 0, false
			}
			if v < 0 {
				d.fail(n, key, ErrValue, nil, "duration must not be negative, got %s", describe(nd))
				return 0, false
			}
			return v, true
		case "!!int":
			var i int64
			if nd.Decode(&i) == nil && i == 0 {
				return 0, true
			}
			d.fail(n, key, ErrType, nil, "want a duration with a unit such as \"15s\", got the bare number %s", describe(nd))
			return 0, false
		}
	}
	d.fail(n, key, ErrType, nil, "want a duration such as \"15s\" or \"1m30s\", got %s", describe(nd))
	return 0, false
}

// maxListenSpec bounds a listen entry: an IPv6 address with a zone, a
// port and an interface name or prefix fit in well under this.
const maxListenSpec = 256

func (d *decoder) listen(f field) []Listen {
	items := d.list(f, "address specs")
	if len(items) == 0 {
		if v := deref(f.value); isNull(v) || v.Kind == yaml.SequenceNode {
			d.fail(f.value, f.name, ErrMissingKey, nil, "at least one address to listen on is needed")
		}
		return nil
	}
	out := make([]Listen, 0, len(items))
	seen := make(map[string]*yaml.Node)
	for i, item := range items {
		key := indexed(f.name, i)
		s, ok := d.str(item, key)
		if !ok {
			continue
		}
		if len(s) > maxListenSpec {
			d.fail(item, key, ErrValue, nil, "address spec %s is %d bytes long; none is longer than %d", quote(s), len(s), maxListenSpec)
			continue
		}
		spec, err := netspec.Parse(s)
		if err != nil {
			// netspec's message repeats the spec and its parts.
			d.fail(item, key, ErrValue, scrub(err, s), "")
			continue
		}
		if prev, dup := seen[s]; dup {
			d.fail(item, key, ErrDuplicate, nil, "address %s is already listed at line %d", quote(s), prev.Line)
			continue
		}
		seen[s] = item
		out = append(out, Listen{Spec: spec, Pos: d.pos(deref(item))})
	}
	return out
}

func (d *decoder) groups(f field) []Group {
	items := d.list(f, "mappings")
	out := make([]Group, 0, len(items))
	first := make(map[uint64]*yaml.Node)
	for i, item := range items {
		path := indexed(f.name, i)
		g, idNode, ok := d.group(item, path)
		if !ok {
			continue
		}
		if prev, dup := first[g.ID]; dup {
			d.fail(idNode, dotted(path, "id"), ErrDuplicate, nil, "duplicate group id %d (first defined at %s)", g.ID, d.pos(prev))
			continue
		}
		first[g.ID] = idNode
		out = append(out, g)
	}
	return out
}

// requiredGroupKeys must be present, and not null, in every group.
// (psk or keys is required too: see groupKeySet.)
var requiredGroupKeys = []string{"id", "expire"}

// group decodes one groups entry; idNode is where its id is written, for
// duplicate reports. ok is false when the entry had any problem.
func (d *decoder) group(n *yaml.Node, path string) (g Group, idNode *yaml.Node, ok bool) {
	fields, ok := d.mapping(n, path)
	if !ok {
		return g, nil, false
	}
	g.Pos = d.pos(deref(n))
	var skewNode *yaml.Node // set when clock_skew is given
	var pskNode *yaml.Node  // set when psk is given
	var keyList []GroupKey
	var keysGiven bool
	for _, f := range fields {
		key := dotted(path, f.name)
		null := isNull(deref(f.value))
		if null && slices.Contains(requiredGroupKeys, f.name) {
			d.fail(f.value, key, ErrMissingKey, nil, "a value is required")
			ok = false
			continue
		}
		good := true
		switch f.name {
		case "id":
			g.ID, good = d.unsigned(f.value, key)
			idNode = f.value
		case "psk":
			if null {
				d.fail(f.value, key, ErrMissingKey, nil, "a value is required")
				good = false
				break
			}
			pskNode = f.value
			good = d.psk(f.value, key, &g.PSK)
		case "keys":
			keysGiven = true
			keyList, good = d.keyList(f, path)
		case "expire":
			g.Expire, good = d.duration(f.value, key)
			if good && g.Expire == 0 {
				d.fail(f.value, key, ErrValue, nil, "expire must be greater than zero")
				good = false
			}
		case "clock_skew":
			if !null {
				g.ClockSkew, good = d.duration(f.value, key)
				skewNode = f.value
			}
		case "readiness_delay":
			if !null {
				g.ReadinessDelay, good = d.duration(f.value, key)
			}
		default:
			d.fail(f.key, path, ErrUnknownKey, nil, "unknown key %s%s", quote(f.name), suggest(f.name, groupKeys))
			good = false
		}
		ok = ok && good
	}
	if !hasField(fields, "psk") && !keysGiven {
		d.fail(n, path, ErrMissingKey, nil, "missing required key %q", "psk")
		ok = false
	}
	for _, name := range requiredGroupKeys {
		if !hasField(fields, name) {
			d.fail(n, path, ErrMissingKey, nil, "missing required key %q", name)
			ok = false
		}
	}
	ok = d.groupKeySet(&g, pskNode, keyList) && ok
	if !ok {
		return g, idNode, false
	}
	switch {
	case g.ClockSkew == 0:
		g.ClockSkew = g.Expire
	case g.ClockSkew > g.Expire:
		d.warn(skewNode, dotted(path, "clock_skew"), "group %d: clock_skew %s is longer than expire %s; using %s",
			g.ID, g.ClockSkew, g.Expire, g.Expire)
		g.ClockSkew = g.Expire
	}
	return g, idNode, true
}

func hasField(fields []field, name string) bool {
	for _, f := range fields {
		if f.name == name {
			return true
		}
	}
	return false
}

// psk decodes a PSK. The value is never quoted in messages.
func (d *decoder) psk(n *yaml.Node, key string, dst *protocol.PSK) bool {
	nd := deref(n)
	if nd.Kind != yaml.ScalarNode || isNull(nd) {
		d.fail(n, key, ErrType, nil, "want 64 hex characters, got %s", describe(nd))
		return false
	}
	p, err := protocol.ParsePSK(nd.Value)
	if err != nil {
		d.fail(n, key, ErrValue, err, "")
		return false
	}
	*dst = p
	return true
}

func (d *decoder) outputs(f field) []Output {
	items := d.list(f, "mappings")
	out := make([]Output, 0, len(items))
	for i, item := range items {
		if o, ok := d.output(item, indexed(f.name, i), i); ok {
			out = append(out, o)
		}
	}
	return out
}

// output decodes one outputs entry; ok is false when it had any problem.
func (d *decoder) output(n *yaml.Node, path string, index int) (o Output, ok bool) {
	fields, ok := d.mapping(n, path)
	if !ok {
		return o, false
	}
	o.Index, o.Pos = index, d.pos(deref(n))
	for _, f := range fields {
		key := dotted(path, f.name)
		null := isNull(deref(f.value))
		good := true
		switch f.name {
		case "kind":
			if null {
				d.fail(f.value, key, ErrMissingKey, nil, "a value is required")
				good = false
				break
			}
			if o.Kind, good = d.str(f.value, key); good {
				good = d.checkKind(f.value, key, o.Kind)
			}
		case "sha256":
			if !null {
				if o.SHA256, good = d.str(f.value, key); good {
					good = d.checkSHA256(f.value, key, &o.SHA256)
				}
			}
		case "hang_timeout":
			if !null {
				if o.HangTimeout, good = d.duration(f.value, key); good && o.HangTimeout != 0 && o.HangTimeout < MinHangTimeout {
					d.fail(f.value, key, ErrValue, nil, "hang_timeout must be at least %v, got %v", MinHangTimeout, o.HangTimeout)
					good = false
				}
			}
		case "spec":
			o.SpecPos = d.pos(f.value)
			if !null {
				o.Spec, good = d.spec(f.value, key)
			}
		default:
			d.fail(f.key, path, ErrUnknownKey, nil, "unknown key %s%s", quote(f.name), suggest(f.name, outputKeys))
			good = false
		}
		ok = ok && good
	}
	if !hasField(fields, "kind") {
		d.fail(n, path, ErrMissingKey, nil, "missing required key %q", "kind")
		ok = false
	}
	return o, ok
}

// maxSpecBytes bounds the total size of all Output.Spec texts (a
// variable so tests can lower it).
var maxSpecBytes = 16 << 20

// spec extracts the text of a non-null outputs[i].spec without looking
// inside it.
func (d *decoder) spec(n *yaml.Node, key string) ([]byte, bool) {
	if d.specBytes > maxSpecBytes {
		return nil, false // reported once, at the spec that crossed the limit
	}
	if d.specs == nil {
		d.specs = newSpecSource(d.src, d.doc)
	}
	text, err := d.specs.extract(n)
	if err != nil {
		d.fail(n, key, ErrValue, err, "")
		return nil, false
	}
	// Each text starts with as many line breaks as the spec's line
	// number, so thousands of outputs near the end of a long file would
	// need memory quadratic in its size.
	if d.specBytes += len(text); d.specBytes > maxSpecBytes {
		d.fail(n, key, ErrValue, nil, "the spec texts of all outputs together exceed %d bytes (too many outputs?)", maxSpecBytes)
		return nil, false
	}
	return text, true
}

// maxKindLen bounds a kind so rgap-plugin-<kind> stays a sane file name.
const maxKindLen = 64

func (d *decoder) checkKind(n *yaml.Node, key, kind string) bool {
	bad := kind == "" || len(kind) > maxKindLen || kind[0] == '-' || kind[0] == '_'
	for _, r := range kind {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			bad = true
		}
	}
	if bad {
		d.fail(n, key, ErrValue, nil, "plugin kind must be 1 to %d letters, digits, '-' or '_', starting with a letter or digit, got %s",
			maxKindLen, describe(n))
	}
	return !bad
}

func (d *decoder) checkSHA256(n *yaml.Node, key string, sum *string) bool {
	s := strings.ToLower(*sum)
	bad := len(s) != 64
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			bad = true
		}
	}
	if bad {
		d.fail(n, key, ErrValue, nil, "want a SHA-256 digest as 64 hex characters, got %s", describe(n))
		return false
	}
	*sum = s
	return true
}

// pathKey decodes a path key (plugins_dir, state_file): a non-empty
// string, relative to the configuration file's directory; "" for null.
func (d *decoder) pathKey(f field) string {
	if isNull(deref(f.value)) {
		return ""
	}
	dir, ok := d.str(f.value, f.name)
	if !ok {
		return ""
	}
	if dir == "" {
		d.fail(f.value, f.name, ErrValue, nil, "must not be empty (leave the key out to use the default)")
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(d.path), dir)
	}
	return dir
}

// maxReceiveBuffer is the largest value SO_RCVBUF takes (a C int).
const maxReceiveBuffer = 1<<31 - 1

func (d *decoder) receiveBuffer(f field) int {
	if isNull(deref(f.value)) {
		return 0
	}
	v, ok := d.unsigned(f.value, f.name)
	if !ok {
		return 0
	}
	if v == 0 || v > maxReceiveBuffer {
		d.fail(f.value, f.name, ErrValue, nil, "receive buffer must be between 1 and %d bytes, got %d (leave the key out to use the default)", maxReceiveBuffer, v)
		return 0
	}
	return int(v)
}
