package sdk

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/redact"
	"github.com/rgap-project/rgap/sdk/yamlwalk"
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
	parsed, err := yamlwalk.Parse(text)
	if err != nil {
		doc.err = doc.parseError(err)
		return doc
	}
	doc.root = yamlwalk.Root(parsed)
	return doc
}

// parseError is the DecodeError for text that yamlwalk.Parse refused.
func (doc *specDoc) parseError(err error) *DecodeError {
	de := &DecodeError{File: doc.file, Line: max(1+doc.offset, doc.specLine), Err: err}
	var syntax *yamlwalk.SyntaxError
	var second *yamlwalk.SecondDocumentError
	switch {
	case errors.As(err, &syntax):
		// The real line of the fault, as the listener's own errors give it,
		// not the one yaml.v3 names (often where the broken block starts).
		if syntax.Line > 0 {
			de.Line = syntax.Line + doc.offset
		}
		de.Err = errors.New(syntax.Error())
	case errors.As(err, &second):
		de.Line = second.Doc.Line + doc.offset
		de.Err = errors.New("a second YAML document starts here; the spec must be a single document")
	}
	return de
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
	maps      yamlwalk.Mappings
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
	d.maps.Report = d.keyProblem
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
	durationType = reflect.TypeFor[time.Duration]()
	addrType     = reflect.TypeFor[netip.Addr]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
	addrPortType = reflect.TypeFor[netip.AddrPort]()
)

// shortenKey shortens a key that is not one of ours for a message: a typo
// such as "intervall" reads best whole, and no secret is 16 characters or
// shorter. Values are cut shorter still (see yamlwalk.DescribeTyped).
func shortenKey(k string) string {
	if utf8.RuneCountInString(k) <= 16 {
		return k
	}
	return redact.Shorten(k)
}

// keyProblem records a problem with a mapping's keys (see
// yamlwalk.Mappings).
func (d *decoder) keyProblem(p yamlwalk.Problem) {
	if p.Kind == yamlwalk.DuplicateKey {
		d.failf(p.Node, yamlwalk.JoinKey(p.Path, shortenKey(p.Name)), "key is repeated (first at line %d)", d.line(p.First))
		return
	}
	d.fail(p.Node, p.Path, errors.New(p.Msg))
}

// pairs lists the entries of mapping n (see yamlwalk.Mappings.Pairs),
// counting the work against the budget.
func (d *decoder) pairs(n *yaml.Node, path string) []yamlwalk.Pair {
	before := d.maps.Steps
	ps := d.maps.Pairs(n, path)
	d.budget -= d.maps.Steps - before
	return ps
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
	switch {
	case n.Kind == yaml.AliasNode:
		if n.Alias == nil {
			d.failf(n, path, "alias %q does not refer to anything", redact.Shorten(n.Value))
			return
		}
		d.decode(n.Alias, v, path, depth+1)
	case n.Kind == yaml.DocumentNode:
		d.failf(n, path, "unexpected YAML document")
	case yamlwalk.IsNull(n):
		// Like yaml.v3: null clears references and leaves scalars (and any
		// default the plugin set before decoding) alone.
		switch v.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			v.SetZero()
		}
	case d.decodeByType(n, v, path):
	default:
		d.decodeByKind(n, v, path, depth)
	}
}

// decodeByType decodes into the types that decode themselves or that the
// SDK knows (durations, addresses); false for any other type.
func (d *decoder) decodeByType(n *yaml.Node, v reflect.Value, path string) bool {
	switch v.Type() {
	case durationType:
		d.decodeText(n, v, path, `a duration like "5s" or "1m30s"`, func(s string) (any, error) { return time.ParseDuration(s) })
		return true
	case addrType:
		d.decodeText(n, v, path, "an IP address", func(s string) (any, error) { return netip.ParseAddr(s) })
		return true
	case prefixType:
		d.decodeText(n, v, path, "an IP prefix like 10.0.0.0/8", func(s string) (any, error) { return netip.ParsePrefix(s) })
		return true
	case addrPortType:
		d.decodeText(n, v, path, "an address:port", func(s string) (any, error) { return netip.ParseAddrPort(s) })
		return true
	}
	if v.Kind() == reflect.Pointer || !v.CanAddr() {
		return false
	}
	switch x := v.Addr().Interface().(type) {
	case yaml.Unmarshaler:
		if err := x.UnmarshalYAML(n); err != nil {
			d.fail(n, path, err)
		}
	case encoding.TextUnmarshaler:
		if !d.wantScalar(n, path, "a string") {
			return true
		}
		if err := x.UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, path, err)
		}
	default:
		return false
	}
	return true
}

// decodeByKind decodes into a value by its kind: containers recursively,
// scalars from a scalar of the matching YAML type.
func (d *decoder) decodeByKind(n *yaml.Node, v reflect.Value, path string, depth int) {
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
	case reflect.Slice, reflect.Array:
		d.decodeList(n, v, path, depth)
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
		if d.scalarAs(n, path, "an integer", &i, "!!int") && d.fits(n, path, v, i, !v.OverflowInt(i)) {
			v.SetInt(i)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		var u uint64
		if d.scalarAs(n, path, "a non-negative integer", &u, "!!int") && d.fits(n, path, v, u, !v.OverflowUint(u)) {
			v.SetUint(u)
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		if d.scalarAs(n, path, "a number", &f, "!!int", "!!float") {
			v.SetFloat(f)
		}
	default:
		d.failf(n, path, "the plugin cannot decode into a %s (a bug in the plugin)", v.Type())
	}
}

// fits reports ok, failing when x is out of range for v's type.
func (d *decoder) fits(n *yaml.Node, path string, v reflect.Value, x any, ok bool) bool {
	if !ok {
		d.failf(n, path, "%d is out of range for %s", x, v.Type())
	}
	return ok
}

// decodeList decodes a list into a slice, or into an array of its length.
func (d *decoder) decodeList(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.SequenceNode {
		d.failf(n, path, "want a list, got %s", yamlwalk.DescribeTyped(n))
		return
	}
	if v.Kind() == reflect.Array && len(n.Content) != v.Len() {
		d.failf(n, path, "want a list of %d items, got %d", v.Len(), len(n.Content))
		return
	}
	if v.Kind() == reflect.Slice {
		v.Set(reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content)))
	}
	for i, c := range n.Content {
		d.decode(c, v.Index(i), yamlwalk.Index(path, i), depth+1)
	}
}

// wantScalar reports whether n is a scalar, failing otherwise.
func (d *decoder) wantScalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode {
		d.failf(n, path, "want %s, got %s", want, yamlwalk.DescribeTyped(n))
		return false
	}
	return true
}

// scalarAs decodes a scalar with one of the given tags into out.
func (d *decoder) scalarAs(n *yaml.Node, path, want string, out any, tags ...string) bool {
	if n.Kind != yaml.ScalarNode || !slices.Contains(tags, n.ShortTag()) || n.Decode(out) != nil {
		d.failf(n, path, "want %s, got %s", want, yamlwalk.DescribeTyped(n))
		return false
	}
	return true
}

// decodeText decodes a scalar with parse, which returns a value of v's type.
func (d *decoder) decodeText(n *yaml.Node, v reflect.Value, path, want string, parse func(string) (any, error)) {
	if !d.wantScalar(n, path, want) {
		return
	}
	x, err := parse(n.Value)
	if err != nil {
		d.failf(n, path, "want %s, got %s", want, yamlwalk.DescribeTyped(n))
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
			if slices.Contains(strings.Split(opts, ","), "inline") {
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
			d.failf(n, path, "want an empty mapping or nothing, got %s", yamlwalk.DescribeTyped(n))
		} else {
			d.failf(n, path, "want a mapping with keys %s; got %s", strings.Join(names, ", "), yamlwalk.DescribeTyped(n))
		}
		return
	}
	for _, p := range d.pairs(n, path) {
		f, ok := fields[p.Name]
		if !ok {
			// Not a key of ours: it may be anything pasted in the wrong
			// place, a PSK included, so it is quoted only in part.
			unknown := yamlwalk.JoinKey(path, shortenKey(p.Name))
			if len(names) == 0 {
				d.fail(p.Key, unknown, fmt.Errorf("%w (this output takes no settings)", ErrUnknownKey))
			} else {
				d.fail(p.Key, unknown, fmt.Errorf("%w (valid keys here: %s)", ErrUnknownKey, strings.Join(names, ", ")))
			}
			continue
		}
		d.decode(p.Value, v.FieldByIndex(f.index), yamlwalk.JoinKey(path, p.Name), depth+1)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.failf(n, path, "want a mapping, got %s", yamlwalk.DescribeTyped(n))
		return
	}
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
	}
	for _, p := range d.pairs(n, path) {
		keyPath := yamlwalk.JoinKey(path, p.Name)
		k := reflect.New(t.Key()).Elem()
		before := len(d.errs)
		d.decode(p.Key, k, keyPath, depth+1)
		if len(d.errs) != before || d.exhausted {
			continue
		}
		e := reflect.New(t.Elem()).Elem()
		d.decode(p.Value, e, keyPath, depth+1)
		v.SetMapIndex(k, e)
	}
}

// lineOf finds the line of a key path (as yamlwalk.JoinKey writes it) in
// the file: see yamlwalk.LineOf.
func (doc *specDoc) lineOf(path string) int {
	if doc.root == nil {
		return doc.specLine
	}
	return yamlwalk.LineOf(doc.root, path) + doc.offset
}
