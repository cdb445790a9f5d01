package sdk

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/redact"
)

// ErrUnknownKey is wrapped by the DecodeError for a key the target struct
// has no field for.
var ErrUnknownKey = errors.New("unknown key")

// ErrUnknownGroup is wrapped by errors about a group id the listener does
// not have (in Subscribe, Mirror.WaitReady).
var ErrUnknownGroup = errors.New("group is not configured in the listener")

// DecodeError is one problem in an output's spec. It names the place in the
// operator's file, so that the host can show it as a diagnostic and the
// operator can go straight to the line. Config.Decode and Config.Errorf
// return it; the SDK turns every DecodeError found in the error returned by
// Plugin.New (also inside errors.Join) into one diagnostic.
type DecodeError struct {
	// File is the listener configuration file ("" if unknown).
	File string
	// Line is the 1-based line in File (0 if unknown).
	Line int
	// Key is the key path inside the spec, e.g. "mappings[0].group"; ""
	// when the problem is the spec as a whole.
	Key string
	// Err is the problem itself.
	Err error
}

// Error formats the problem as "file:line: key: problem".
func (e *DecodeError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("invalid value")
	}
	return b.String()
}

// Unwrap returns the problem, so errors.Is finds ErrUnknownKey and friends.
func (e *DecodeError) Unwrap() error { return e.Err }

const (
	// maxDecodeErrors bounds how many problems one Decode reports.
	maxDecodeErrors = 20
	// decodeBudget bounds the nodes visited by one Decode, which bounds the
	// work an alias bomb ("billion laughs") can cause.
	decodeBudget = 200_000
	// maxDepth bounds recursion through nested values and aliases.
	maxDepth = 500
)

// specDoc is a parsed OutputSpec.
type specDoc struct {
	root     *yaml.Node // the spec value; nil when absent or null
	file     string
	specLine int // where the spec starts in file (0 if unknown)
	offset   int // added to yaml line numbers to get file lines
	err      *DecodeError
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseSpec parses the spec text. The host sends the spec line-preserving:
// the text is padded so that line N of it is line N of the operator's file.
// If the text instead starts at line 1 while the spec sits further down the
// file, the lines are shifted by the spec's start, so errors still point at
// the right place.
func parseSpec(text []byte, file string, specLine int) (doc specDoc) {
	doc.file = file
	doc.specLine = specLine
	if specLine > 1 && leadingBlankLines(text) < specLine-1 {
		doc.offset = specLine - 1
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return doc
	}
	var n yaml.Node
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("yaml parser failed: %v", r)
			}
		}()
		return yaml.NewDecoder(bytes.NewReader(text)).Decode(&n)
	}()
	if errors.Is(err, io.EOF) {
		return doc
	}
	if err != nil {
		// yaml.v3 leaves out the line when the problem is on the first
		// line of the text.
		de := &DecodeError{File: file, Line: max(1+doc.offset, specLine),
			Err: errors.New("invalid YAML: " + shortenQuoted(strings.TrimPrefix(err.Error(), "yaml: ")))}
		if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
			if l, perr := strconv.Atoi(m[1]); perr == nil {
				de.Line = l + doc.offset
				de.Err = errors.New("invalid YAML: " + shortenQuoted(m[2]))
			}
		}
		doc.err = de
		return doc
	}
	root := &n
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return doc
		}
		root = root.Content[0]
	}
	if isNull(root) {
		return doc
	}
	doc.root = root
	return doc
}

// leadingBlankLines counts the lines before the first one holding YAML
// content (blank or comment-only lines).
func leadingBlankLines(text []byte) int {
	n := 0
	for len(text) > 0 {
		line, rest, found := bytes.Cut(text, []byte("\n"))
		t := bytes.TrimSpace(line)
		if len(t) != 0 && t[0] != '#' {
			return n
		}
		if !found {
			return n
		}
		n++
		text = rest
	}
	return n
}

// decoder walks yaml.Node trees into Go values, collecting DecodeErrors.
type decoder struct {
	doc       *specDoc
	errs      []error
	budget    int
	exhausted bool
}

func (d *decoder) line(n *yaml.Node) int {
	if n == nil || n.Line == 0 {
		return d.doc.specLine
	}
	return n.Line + d.doc.offset
}

func (d *decoder) fail(n *yaml.Node, path string, err error) {
	if len(d.errs) >= maxDecodeErrors {
		return
	}
	d.errs = append(d.errs, &DecodeError{File: d.doc.file, Line: d.line(n), Key: path, Err: err})
}

func (d *decoder) failf(n *yaml.Node, path, format string, args ...any) {
	d.fail(n, path, fmt.Errorf(format, args...))
}

// result returns nil, the one error, or all errors joined.
func (d *decoder) result() error {
	switch len(d.errs) {
	case 0:
		return nil
	case 1:
		return d.errs[0]
	}
	return errors.Join(d.errs...)
}

// decodeSpec decodes the whole spec into v, which must be a non-nil pointer.
func decodeSpec(doc *specDoc, v any) (err error) {
	if doc.err != nil {
		return doc.err
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("sdk: Config.Decode needs a non-nil pointer, got %T", v)
	}
	d := &decoder{doc: doc, budget: decodeBudget}
	defer func() {
		// A panic here is a bug in the decoder or in a yaml.Unmarshaler;
		// either way the operator gets an error, not a crashed plugin.
		if r := recover(); r != nil {
			err = &DecodeError{File: doc.file, Line: doc.specLine, Err: fmt.Errorf("decoding the spec failed: %v", r)}
		}
	}()
	root := doc.root
	if root == nil {
		root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	d.decode(root, rv.Elem(), "", 0)
	return d.result()
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
	addrType            = reflect.TypeFor[netip.Addr]()
	prefixType          = reflect.TypeFor[netip.Prefix]()
	addrPortType        = reflect.TypeFor[netip.AddrPort]()
)

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// shorten cuts s after redact.MaxQuoted characters, as the listener's
// own configuration errors do: the line already says where it is, and
// repeating a value whole would print a PSK pasted into a spec by mistake.
func shorten(s string) string { return redact.Shorten(s) }

// shortenKey is shorten for a key that is not one of ours: a typo such as
// "intervall" reads best whole, and no secret is 16 characters or shorter.
func shortenKey(k string) string {
	if utf8.RuneCountInString(k) <= 16 {
		return k
	}
	return shorten(k)
}

// quotedInParserError is a quoted token in a yaml.v3 message (an anchor
// name, a tag, a character), which repeats what the file says.
var quotedInParserError = regexp.MustCompile(`'[^']*'`)

// shortenQuoted shortens each quoted token in a parser message.
func shortenQuoted(msg string) string {
	return quotedInParserError.ReplaceAllStringFunc(msg, func(q string) string {
		return "'" + shorten(q[1:len(q)-1]) + "'"
	})
}

// describe names a node's kind and value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	v := shorten(n.Value)
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("string %q", v)
	case "!!int":
		return "integer " + v
	case "!!float":
		return "number " + v
	case "!!bool":
		return "boolean " + v
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), v)
}

// decode stores n into v (settable), reporting problems under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	d.budget--
	if d.budget < 0 || depth > maxDepth {
		if !d.exhausted {
			d.exhausted = true
			d.failf(n, path, "spec is too large or too deeply nested (aliases expand to more than %d values)", decodeBudget)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.failf(n, path, "alias %q does not refer to anything", shorten(n.Value))
			return
		}
		d.decode(n.Alias, v, path, depth+1)
		return
	}
	if n.Kind == yaml.DocumentNode {
		d.failf(n, path, "unexpected YAML document")
		return
	}
	if isNull(n) {
		// Like yaml.v3: null clears references and leaves scalars (and any
		// default the plugin set before decoding) alone.
		switch v.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			v.SetZero()
		}
		return
	}
	if v.Kind() != reflect.Pointer && v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.fail(n, path, err)
		}
		return
	}
	switch v.Type() {
	case durationType:
		d.decodeDuration(n, v, path)
		return
	case addrType:
		d.decodeText(n, v, path, "an IP address", func(s string) (any, error) { return netip.ParseAddr(s) })
		return
	case prefixType:
		d.decodeText(n, v, path, "an IP prefix like 10.0.0.0/8", func(s string) (any, error) { return netip.ParsePrefix(s) })
		return
	case addrPortType:
		d.decodeText(n, v, path, "an address:port", func(s string) (any, error) { return netip.ParseAddrPort(s) })
		return
	}
	if v.Kind() != reflect.Pointer && v.CanAddr() && v.Addr().Type().Implements(textUnmarshalerType) {
		if !d.wantScalar(n, path, "a string") {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, path, err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path, depth+1)
	case reflect.Interface:
		d.decodeAny(n, v, path)
	case reflect.Struct:
		d.decodeStruct(n, v, path, depth)
	case reflect.Map:
		d.decodeMap(n, v, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.failf(n, path, "want a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), path+"["+strconv.Itoa(i)+"]", depth+1)
		}
		v.Set(s)
	case reflect.Array:
		if n.Kind != yaml.SequenceNode {
			d.failf(n, path, "want a list, got %s", describe(n))
			return
		}
		if len(n.Content) != v.Len() {
			d.failf(n, path, "want a list of %d items, got %d", v.Len(), len(n.Content))
			return
		}
		for i, c := range n.Content {
			d.decode(c, v.Index(i), path+"["+strconv.Itoa(i)+"]", depth+1)
		}
	case reflect.String:
		// Any scalar is accepted as a string: `hostname: 1000` means the
		// text "1000" to an operator.
		if d.wantScalar(n, path, "a string") {
			v.SetString(n.Value)
		}
	case reflect.Bool:
		var b bool
		if d.scalarAs(n, path, "true or false", &b, "!!bool") {
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if !d.scalarAs(n, path, "an integer", &i, "!!int") {
			return
		}
		if v.OverflowInt(i) {
			d.failf(n, path, "%d is out of range for %s", i, v.Type())
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		var u uint64
		if !d.scalarAs(n, path, "a non-negative integer", &u, "!!int") {
			return
		}
		if v.OverflowUint(u) {
			d.failf(n, path, "%d is out of range for %s", u, v.Type())
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		var f float64
		if d.scalarAs(n, path, "a number", &f, "!!int", "!!float") {
			v.SetFloat(f)
		}
	default:
		d.failf(n, path, "the plugin cannot decode into a %s (a bug in the plugin)", v.Type())
	}
}

// wantScalar reports whether n is a scalar, failing otherwise.
func (d *decoder) wantScalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode {
		d.failf(n, path, "want %s, got %s", want, describe(n))
		return false
	}
	return true
}

// scalarAs decodes a scalar with one of the given tags into out.
func (d *decoder) scalarAs(n *yaml.Node, path, want string, out any, tags ...string) bool {
	if n.Kind != yaml.ScalarNode || !contains(tags, n.ShortTag()) {
		d.failf(n, path, "want %s, got %s", want, describe(n))
		return false
	}
	if err := n.Decode(out); err != nil {
		d.failf(n, path, "want %s, got %s", want, describe(n))
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if !d.wantScalar(n, path, `a duration like "5s"`) {
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.failf(n, path, `want a duration like "5s" or "1m30s", got %s`, describe(n))
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodeText(n *yaml.Node, v reflect.Value, path, want string, parse func(string) (any, error)) {
	if !d.wantScalar(n, path, want) {
		return
	}
	x, err := parse(n.Value)
	if err != nil {
		d.failf(n, path, "want %s, got %s", want, describe(n))
		return
	}
	v.Set(reflect.ValueOf(x))
}

// decodeAny decodes into an interface value. Only the empty interface can
// be filled; yaml.v3 picks the Go types (and bounds aliases itself).
func (d *decoder) decodeAny(n *yaml.Node, v reflect.Value, path string) {
	if v.NumMethod() != 0 {
		d.failf(n, path, "the plugin cannot decode into interface %s (a bug in the plugin)", v.Type())
		return
	}
	var x any
	if err := n.Decode(&x); err != nil {
		d.failf(n, path, "%v", err)
		return
	}
	if x == nil {
		v.SetZero()
		return
	}
	v.Set(reflect.ValueOf(x))
}

// pair is one key/value of a mapping.
type pair struct{ key, value *yaml.Node }

// pairs lists a mapping's entries with YAML merge keys ("<<: *base")
// expanded: explicit keys win over merged ones, and a key written twice is
// an error.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) []pair {
	var explicit, merged []pair
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(val, path, depth+1)...)
			continue
		}
		if k.Kind == yaml.ScalarNode {
			if first, dup := seen[k.Value]; dup {
				d.failf(k, joinKey(path, shortenKey(k.Value)), "key is repeated (first at line %d)", d.line(first))
				continue
			}
			seen[k.Value] = k
		}
		explicit = append(explicit, pair{k, val})
	}
	for _, p := range merged {
		if _, dup := seen[p.key.Value]; dup {
			continue
		}
		seen[p.key.Value] = p.key
		explicit = append(explicit, p)
	}
	return explicit
}

// mergeSources lists the entries a merge key's value contributes.
func (d *decoder) mergeSources(n *yaml.Node, path string, depth int) []pair {
	d.budget -= len(n.Content) + 1
	for n.Kind == yaml.AliasNode && n.Alias != nil && depth <= 8 {
		n = n.Alias
		depth++
	}
	if depth > 8 || d.budget < 0 {
		d.failf(n, path, "merge keys (<<) nest too deeply")
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, path, depth)
	case yaml.SequenceNode:
		var out []pair
		for _, c := range n.Content {
			out = append(out, d.mergeSources(c, path, depth+1)...)
		}
		return out
	}
	d.failf(n, path, "merge key (<<) wants a mapping or a list of mappings, got %s", describe(n))
	return nil
}

// field is a struct field reachable by a YAML key.
type field struct {
	index []int
}

// structFields maps YAML keys to fields the way yaml.v3 does: the `yaml`
// tag names the key ("-" skips the field, ",inline" flattens an embedded
// struct), and untagged exported fields use their lower-cased name.
func structFields(t reflect.Type) (map[string]field, []string, error) {
	fields := map[string]field{}
	var names []string
	var walk func(t reflect.Type, prefix []int) error
	walk = func(t reflect.Type, prefix []int) error {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.PkgPath != "" && !f.Anonymous {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			index := append(append([]int(nil), prefix...), i)
			if contains(strings.Split(opts, ","), "inline") {
				if f.Type.Kind() != reflect.Struct {
					return fmt.Errorf("field %s of %s: only struct fields can be inlined", f.Name, t)
				}
				if err := walk(f.Type, index); err != nil {
					return err
				}
				continue
			}
			if f.PkgPath != "" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if _, dup := fields[name]; dup {
				return fmt.Errorf("%s has two fields for key %q", t, name)
			}
			fields[name] = field{index: index}
			names = append(names, name)
		}
		return nil
	}
	err := walk(t, nil)
	return fields, names, err
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, depth int) {
	fields, names, err := structFields(v.Type())
	if err != nil {
		d.failf(n, path, "the plugin's spec type is invalid (a bug in the plugin): %v", err)
		return
	}
	if n.Kind != yaml.MappingNode {
		if len(names) == 0 {
			d.failf(n, path, "want an empty mapping or nothing, got %s", describe(n))
		} else {
			d.failf(n, path, "want a mapping with keys %s; got %s", strings.Join(names, ", "), describe(n))
		}
		return
	}
	for _, p := range d.pairs(n, path, 0) {
		if p.key.Kind != yaml.ScalarNode {
			d.failf(p.key, path, "a key must be a string, got %s", describe(p.key))
			continue
		}
		keyPath := joinKey(path, p.key.Value)
		f, ok := fields[p.key.Value]
		if !ok {
			// Not a key of ours: it may be anything pasted in the wrong
			// place, a PSK included, so it is quoted only in part.
			unknown := joinKey(path, shortenKey(p.key.Value))
			if len(names) == 0 {
				d.fail(p.key, unknown, fmt.Errorf("%w (this output takes no settings)", ErrUnknownKey))
			} else {
				d.fail(p.key, unknown, fmt.Errorf("%w (valid keys here: %s)", ErrUnknownKey, strings.Join(names, ", ")))
			}
			continue
		}
		d.decode(p.value, v.FieldByIndex(f.index), keyPath, depth+1)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.failf(n, path, "want a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
	}
	for _, p := range d.pairs(n, path, 0) {
		if p.key.Kind != yaml.ScalarNode {
			d.failf(p.key, path, "a key must be a string, got %s", describe(p.key))
			continue
		}
		keyPath := joinKey(path, p.key.Value)
		k := reflect.New(t.Key()).Elem()
		before := len(d.errs)
		d.decode(p.key, k, keyPath, depth+1)
		if len(d.errs) != before || d.exhausted {
			continue
		}
		e := reflect.New(t.Elem()).Elem()
		d.decode(p.value, e, keyPath, depth+1)
		v.SetMapIndex(k, e)
	}
}

// joinKey appends a mapping key to a key path: `a.b` for plain keys,
// `a["b.c"]` for keys that would be ambiguous.
func joinKey(path, key string) string {
	if isPlainKey(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

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

// lineOf finds the line of a key path (as written by joinKey) in the spec.
// A path that does not resolve fully gets the line of its deepest part that
// does (so a missing key points at the mapping that lacks it).
func (doc *specDoc) lineOf(path string) int {
	n := doc.root
	if n == nil {
		return doc.specLine
	}
	line := n.Line
	segs, ok := parseKeyPath(path)
	if !ok {
		return line + doc.offset
	}
	for _, s := range segs {
		for hops := 0; n.Kind == yaml.AliasNode && n.Alias != nil && hops < 8; hops++ {
			n = n.Alias
		}
		var next *yaml.Node
		switch {
		case s.isIndex && n.Kind == yaml.SequenceNode && s.index < len(n.Content):
			next = n.Content[s.index]
			line = next.Line
		case !s.isIndex && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == s.key {
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
	return line + doc.offset
}

// segment is one step of a key path.
type segment struct {
	key     string
	index   int
	isIndex bool
}

// parseKeyPath splits `a.b[0]["c.d"]` into its steps.
func parseKeyPath(p string) ([]segment, bool) {
	var segs []segment
	for p != "" {
		switch p[0] {
		case '.':
			p = p[1:]
			if p == "" || p[0] == '.' || p[0] == '[' {
				return nil, false
			}
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, false
			}
			inner := p[1:end]
			if strings.HasPrefix(inner, `"`) {
				// A quoted key may itself hold ']': find the closing quote.
				q, err := strconv.QuotedPrefix(p[1:])
				if err != nil || len(p) < len(q)+2 || p[1+len(q)] != ']' {
					return nil, false
				}
				k, _ := strconv.Unquote(q)
				segs = append(segs, segment{key: k})
				p = p[len(q)+2:]
				continue
			}
			i, err := strconv.Atoi(inner)
			if err != nil || i < 0 {
				return nil, false
			}
			segs = append(segs, segment{index: i, isIndex: true})
			p = p[end+1:]
			continue
		}
		end := strings.IndexAny(p, ".[")
		if end < 0 {
			end = len(p)
		}
		if end == 0 {
			return nil, false
		}
		segs = append(segs, segment{key: p[:end]})
		p = p[end:]
	}
	return segs, true
}
