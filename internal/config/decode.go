package config

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
	"github.com/rgap-project/rgap/sdk/yamlwalk"
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
	// maps lists the entries of mappings, merge keys applied.
	maps yamlwalk.Mappings
	// specBytes is the total size of the spec texts so far.
	specBytes int
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

// keyProblem records a problem with a mapping's keys (see yamlwalk.Mappings).
func (d *decoder) keyProblem(p yamlwalk.Problem) {
	kind := ErrType
	switch p.Kind {
	case yamlwalk.DuplicateKey:
		kind = ErrDuplicate
	case yamlwalk.MergeCycle:
		kind = ErrValue
	}
	d.fail(p.Node, p.Path, kind, nil, "%s", p.Msg)
}

func (d *decoder) warn(n *yaml.Node, key, format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf("%s: %s: %s", d.pos(n), key, fmt.Sprintf(format, args...)))
}

func (d *decoder) decode() *Config {
	cfg := &Config{Path: d.path}
	d.maps.Report = d.keyProblem
	doc := d.parseDocuments()
	if doc == nil {
		return nil
	}
	d.doc = doc
	root := yamlwalk.Root(doc)
	if root == nil {
		d.fail(nil, "", ErrEmpty, nil, "configuration is empty")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.fail(root, "", ErrType, nil, "the top level must be a mapping, got %s", yamlwalk.Describe(root))
		return nil
	}
	var listenSeen bool
	for _, f := range d.maps.Pairs(root, "") {
		switch f.Name {
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
			d.unknownKey(f, "", topKeys)
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

// mapping checks that n is a mapping and returns its fields.
func (d *decoder) mapping(n *yaml.Node, path string) ([]yamlwalk.Pair, bool) {
	nd := yamlwalk.Deref(n)
	if nd.Kind != yaml.MappingNode {
		d.fail(n, path, ErrType, nil, "want a mapping, got %s", yamlwalk.Describe(nd))
		return nil, false
	}
	return d.maps.Pairs(nd, path), true
}

// list checks that f's value is a list (null counts as empty) and returns
// its items.
func (d *decoder) list(f yamlwalk.Pair, what string) []*yaml.Node {
	v := yamlwalk.Deref(f.Value)
	if yamlwalk.IsNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		d.fail(f.Value, f.Name, ErrType, nil, "want a list of %s, got %s", what, yamlwalk.Describe(v))
		return nil
	}
	return v.Content
}

// optionalStr decodes the value of an optional top-level string key; ok
// is false when it is null (the key's default applies) or not a string
// (reported).
func (d *decoder) optionalStr(f yamlwalk.Pair) (string, bool) {
	if yamlwalk.IsNull(f.Value) {
		return "", false
	}
	return d.str(f.Value, f.Name)
}

// str decodes a string value. Like yaml.v3 decoding into a string, any
// scalar is accepted as written (kind: 123 is the string "123"); null and
// collections are not.
func (d *decoder) str(n *yaml.Node, key string) (string, bool) {
	nd := yamlwalk.Deref(n)
	if nd.Kind != yaml.ScalarNode || yamlwalk.IsNull(nd) {
		d.fail(n, key, ErrType, nil, "want a string, got %s", yamlwalk.Describe(nd))
		return "", false
	}
	return nd.Value, true
}

// unsigned decodes an unsigned integer. Only YAML integers are accepted
// (1000, 0x3e8, 1_000); unlike yaml.v3 decoding into a uint64, a float
// such as 1000.5 is an error rather than silently truncated.
func (d *decoder) unsigned(n *yaml.Node, key string) (uint64, bool) {
	nd := yamlwalk.Deref(n)
	var v uint64
	if nd.Kind != yaml.ScalarNode || nd.ShortTag() != "!!int" || nd.Decode(&v) != nil {
		d.fail(n, key, ErrType, nil, "want an unsigned integer, got %s", yamlwalk.Describe(nd))
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
	nd := yamlwalk.Deref(n)
	if nd.Kind == yaml.ScalarNode {
		switch nd.ShortTag() {
		case "!!str":
			v, err := time.ParseDuration(nd.Value)
			if err != nil && durationSyntax.MatchString(nd.Value) && !strings.HasPrefix(nd.Value, "-") {
				d.fail(n, key, ErrValue, nil, "duration %s is longer than the longest possible, %s (about 292 years)",
					yamlwalk.Describe(nd), time.Duration(math.MaxInt64))
				return 0, false
			}
			if err != nil {
				d.fail(n, key, ErrType, nil, "want a duration such as \"15s\" or \"1m30s\", got %s", yamlwalk.Describe(nd))
				return 0, false
			}
			if v < 0 {
				d.fail(n, key, ErrValue, nil, "duration must not be negative, got %s", yamlwalk.Describe(nd))
				return 0, false
			}
			return v, true
		case "!!int":
			var i int64
			if nd.Decode(&i) == nil && i == 0 {
				return 0, true
			}
			d.fail(n, key, ErrType, nil, "want a duration with a unit such as \"15s\", got the bare number %s", yamlwalk.Describe(nd))
			return 0, false
		}
	}
	d.fail(n, key, ErrType, nil, "want a duration such as \"15s\" or \"1m30s\", got %s", yamlwalk.Describe(nd))
	return 0, false
}

// maxListenSpec bounds a listen entry: an IPv6 address with a zone, a
// port and an interface name or prefix fit in well under this.
const maxListenSpec = 256

func (d *decoder) listen(f yamlwalk.Pair) []Listen {
	items := d.list(f, "address specs")
	if len(items) == 0 {
		if v := yamlwalk.Deref(f.Value); yamlwalk.IsNull(v) || v.Kind == yaml.SequenceNode {
			d.fail(f.Value, f.Name, ErrMissingKey, nil, "at least one address to listen on is needed")
		}
		return nil
	}
	out := make([]Listen, 0, len(items))
	seen := make(map[string]*yaml.Node)
	for i, item := range items {
		key := yamlwalk.Index(f.Name, i)
		s, ok := d.str(item, key)
		if !ok {
			continue
		}
		if len(s) > maxListenSpec {
			d.fail(item, key, ErrValue, nil, "address spec %s is %d bytes long; none is longer than %d", yamlwalk.Quote(s), len(s), maxListenSpec)
			continue
		}
		spec, err := netspec.Parse(s)
		if err != nil {
			// netspec's message repeats the spec and its parts.
			d.fail(item, key, ErrValue, scrub(err, s), "")
			continue
		}
		if prev, dup := seen[s]; dup {
			d.fail(item, key, ErrDuplicate, nil, "address %s is already listed at line %d", yamlwalk.Quote(s), prev.Line)
			continue
		}
		seen[s] = item
		out = append(out, Listen{Spec: spec, Pos: d.pos(yamlwalk.Deref(item))})
	}
	return out
}

func (d *decoder) groups(f yamlwalk.Pair) []Group {
	items := d.list(f, "mappings")
	out := make([]Group, 0, len(items))
	first := make(map[uint64]*yaml.Node)
	for i, item := range items {
		path := yamlwalk.Index(f.Name, i)
		g, idNode, ok := d.group(item, path)
		if !ok {
			continue
		}
		if prev, dup := first[g.ID]; dup {
			d.fail(idNode, yamlwalk.JoinKey(path, "id"), ErrDuplicate, nil, "duplicate group id %d (first defined at %s)", g.ID, d.pos(prev))
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
	g.Pos = d.pos(yamlwalk.Deref(n))
	var skewNode *yaml.Node // set when clock_skew is given
	var pskNode *yaml.Node  // set when psk is given
	var keyList []GroupKey
	var keysGiven bool
	for _, f := range fields {
		key := yamlwalk.JoinKey(path, f.Name)
		null := yamlwalk.IsNull(f.Value)
		if null && slices.Contains(requiredGroupKeys, f.Name) {
			d.fail(f.Value, key, ErrMissingKey, nil, "a value is required")
			ok = false
			continue
		}
		good := true
		switch f.Name {
		case "id":
			g.ID, good = d.unsigned(f.Value, key)
			idNode = f.Value
		case "psk":
			if null {
				d.fail(f.Value, key, ErrMissingKey, nil, "a value is required")
				good = false
				break
			}
			pskNode = f.Value
			good = d.psk(f.Value, key, &g.PSK)
		case "keys":
			keysGiven = true
			keyList, good = d.keyList(f, path)
		case "expire":
			g.Expire, good = d.duration(f.Value, key)
			if good && g.Expire == 0 {
				d.fail(f.Value, key, ErrValue, nil, "expire must be greater than zero")
				good = false
			}
		case "clock_skew":
			if !null {
				g.ClockSkew, good = d.duration(f.Value, key)
				skewNode = f.Value
			}
		case "readiness_delay":
			if !null {
				g.ReadinessDelay, good = d.duration(f.Value, key)
			}
		default:
			good = d.unknownKey(f, path, groupKeys)
		}
		ok = ok && good
	}
	if !keysGiven {
		ok = d.requireKeys(n, path, fields, "psk") && ok
	}
	ok = d.requireKeys(n, path, fields, requiredGroupKeys...) && ok
	ok = d.groupKeySet(&g, pskNode, keyList) && ok
	if !ok {
		return g, idNode, false
	}
	switch {
	case g.ClockSkew == 0:
		g.ClockSkew = g.Expire
	case g.ClockSkew > g.Expire:
		d.warn(skewNode, yamlwalk.JoinKey(path, "clock_skew"), "group %d: clock_skew %s is longer than expire %s; using %s",
			g.ID, g.ClockSkew, g.Expire, g.Expire)
		g.ClockSkew = g.Expire
	}
	return g, idNode, true
}

// unknownKey reports a key the mapping at path does not know, suggesting
// the known key it is likely a typo of; it returns false.
func (d *decoder) unknownKey(f yamlwalk.Pair, path string, known []string) bool {
	d.fail(f.Key, path, ErrUnknownKey, nil, "unknown key %s%s", yamlwalk.Quote(f.Name), suggest(f.Name, known))
	return false
}

// requireKeys reports each of names that mapping n, at path, lacks; it
// returns false when one is missing.
func (d *decoder) requireKeys(n *yaml.Node, path string, fields []yamlwalk.Pair, names ...string) bool {
	ok := true
	for _, name := range names {
		if !slices.ContainsFunc(fields, func(f yamlwalk.Pair) bool { return f.Name == name }) {
			d.fail(n, path, ErrMissingKey, nil, "missing required key %q", name)
			ok = false
		}
	}
	return ok
}

// psk decodes a PSK. The value is never quoted in messages.
func (d *decoder) psk(n *yaml.Node, key string, dst *protocol.PSK) bool {
	nd := yamlwalk.Deref(n)
	if nd.Kind != yaml.ScalarNode || yamlwalk.IsNull(nd) {
		d.fail(n, key, ErrType, nil, "want 64 hex characters, got %s", yamlwalk.Describe(nd))
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

func (d *decoder) outputs(f yamlwalk.Pair) []Output {
	items := d.list(f, "mappings")
	out := make([]Output, 0, len(items))
	for i, item := range items {
		if o, ok := d.output(item, yamlwalk.Index(f.Name, i), i); ok {
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
	o.Index, o.Pos = index, d.pos(yamlwalk.Deref(n))
	for _, f := range fields {
		key := yamlwalk.JoinKey(path, f.Name)
		null := yamlwalk.IsNull(f.Value)
		good := true
		switch f.Name {
		case "kind":
			if null {
				d.fail(f.Value, key, ErrMissingKey, nil, "a value is required")
				good = false
				break
			}
			if o.Kind, good = d.str(f.Value, key); good {
				good = d.checkKind(f.Value, key, o.Kind)
			}
		case "sha256":
			if !null {
				if o.SHA256, good = d.str(f.Value, key); good {
					good = d.checkSHA256(f.Value, key, &o.SHA256)
				}
			}
		case "hang_timeout":
			if !null {
				if o.HangTimeout, good = d.duration(f.Value, key); good && o.HangTimeout != 0 && o.HangTimeout < MinHangTimeout {
					d.fail(f.Value, key, ErrValue, nil, "hang_timeout must be at least %v, got %v", MinHangTimeout, o.HangTimeout)
					good = false
				}
			}
		case "spec":
			o.SpecPos = d.pos(f.Value)
			if !null {
				o.Spec, good = d.spec(f.Value, key)
			}
		default:
			good = d.unknownKey(f, path, outputKeys)
		}
		ok = ok && good
	}
	ok = d.requireKeys(n, path, fields, "kind") && ok
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
			maxKindLen, yamlwalk.Describe(n))
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
		d.fail(n, key, ErrValue, nil, "want a SHA-256 digest as 64 hex characters, got %s", yamlwalk.Describe(n))
		return false
	}
	*sum = s
	return true
}

// pathKey decodes a path key (plugins_dir, state_file): a non-empty
// string, relative to the configuration file's directory; "" for null.
func (d *decoder) pathKey(f yamlwalk.Pair) string {
	dir, ok := d.optionalStr(f)
	if !ok {
		return ""
	}
	if dir == "" {
		d.fail(f.Value, f.Name, ErrValue, nil, "must not be empty (leave the key out to use the default)")
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(d.path), dir)
	}
	return dir
}

// maxReceiveBuffer is the largest value SO_RCVBUF takes (a C int).
const maxReceiveBuffer = 1<<31 - 1

func (d *decoder) receiveBuffer(f yamlwalk.Pair) int {
	if yamlwalk.IsNull(f.Value) {
		return 0
	}
	v, ok := d.unsigned(f.Value, f.Name)
	if !ok {
		return 0
	}
	if v == 0 || v > maxReceiveBuffer {
		d.fail(f.Value, f.Name, ErrValue, nil, "receive buffer must be between 1 and %d bytes, got %d (leave the key out to use the default)", maxReceiveBuffer, v)
		return 0
	}
	return int(v)
}
