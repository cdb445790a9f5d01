package sdktest

import (
	"encoding"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// SpecKeys lists every key an output's spec struct accepts, as the plugin
// guide (plugins/README.md) writes them in a README's configuration table:
// `a` for a key, `a.b` below a mapping, `a[].b` below a list of mappings and
// `a.NAME.b` below a map keyed by the operator's names. A key that holds a
// mapping is listed itself too. spec is the spec struct (or a pointer to
// it); keys come from its yaml tags, inline structs included.
func SpecKeys(spec any) []string {
	var keys []string
	walkKeys(reflect.TypeOf(spec), "", &keys)
	slices.Sort(keys)
	return keys
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
)

// leaf reports whether t decodes from one YAML value rather than from keys.
func leaf(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t == durationType || p.Implements(unmarshalerType) || p.Implements(textUnmarshalerType)
}

func walkKeys(t reflect.Type, prefix string, keys *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || leaf(t) {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if strings.Contains(opts, "inline") {
			walkKeys(f.Type, prefix, keys)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := prefix + name
		*keys = append(*keys, key)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case leaf(ft):
		case ft.Kind() == reflect.Struct:
			walkKeys(ft, key+".", keys)
		case ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array:
			walkKeys(ft.Elem(), key+"[].", keys)
		case ft.Kind() == reflect.Map:
			walkKeys(ft.Elem(), key+".NAME.", keys)
		}
	}
}

// configTableKey is a configuration table row's first cell: a key in
// backquotes.
var configTableKey = regexp.MustCompile("^\\|\\s*`([^`]+)`\\s*\\|")

// READMEKeys returns the keys in the table of a README's "## Configuration"
// section, in the order they appear.
func READMEKeys(t testing.TB, path string) []string {
	t.Helper()
	section := markdownSection(t, path, "## Configuration")
	var keys []string
	for _, line := range strings.Split(section, "\n") {
		if m := configTableKey.FindStringSubmatch(line); m != nil {
			keys = append(keys, m[1])
		}
	}
	return keys
}

// CheckREADME runs the checks every plugin's README test makes
// (plugins/README.md): CheckREADMESections with kind, and CheckConfigTable
// with spec (the plugin's spec struct, e.g. spec{}).
func CheckREADME(t testing.TB, path, kind string, spec any) {
	t.Helper()
	CheckREADMESections(t, path, kind)
	CheckConfigTable(t, path, spec)
}

// CheckConfigTable fails the test unless the configuration table of the
// README at path lists exactly the keys spec accepts: a key the plugin
// takes but the README does not document, or one documented but no longer
// taken, is a defect of the documentation.
func CheckConfigTable(t testing.TB, path string, spec any) {
	t.Helper()
	want := SpecKeys(spec)
	got := READMEKeys(t, path)
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("%s: key %q is accepted by the spec but missing from the configuration table", path, k)
		}
	}
	for _, k := range got {
		if !slices.Contains(want, k) {
			t.Errorf("%s: the configuration table lists %q, which the spec does not accept", path, k)
		}
	}
}

// closingSections are the level-2 headings that end every plugin README,
// in this order, after its behaviour sections (plugins/README.md).
var closingSections = []string{"## Configuration", "## Example", "## On failure", "## Logs"}

// CheckREADMESections fails the test unless the README at path has the
// parts the plugin guide (plugins/README.md) asks for, in its order: the
// title "# `KIND` output" as its first heading, then any sections on the
// output's behaviour, then "## Configuration", "## Example", "## On
// failure" and "## Logs", with no other level-2 section after
// "## Configuration". Headings inside fenced code blocks do not count.
func CheckREADMESections(t testing.TB, path, kind string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	for _, p := range sectionProblems(string(b), kind) {
		t.Errorf("%s: %s", path, p)
	}
}

// sectionProblems lists how the headings of a README's text differ from
// the plugin guide's order.
func sectionProblems(text, kind string) []string {
	title := "# `" + kind + "` output"
	var problems []string
	var top []string // level-1 and level-2 headings, in order
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if n := headingLevel(line); !fenced && (n == 1 || n == 2) {
			top = append(top, strings.TrimSpace(line))
		}
	}
	if len(top) == 0 || top[0] != title {
		problems = append(problems, fmt.Sprintf("the first heading must be %q", title))
	}
	for _, h := range top[min(1, len(top)):] {
		if headingLevel(h) == 1 {
			problems = append(problems, fmt.Sprintf("%q: only the title is a level-1 heading", h))
		}
	}
	start := slices.Index(top, closingSections[0])
	if start < 0 {
		return append(problems, fmt.Sprintf("no %q section", closingSections[0]))
	}
	if got := top[start:]; !slices.Equal(got, closingSections) {
		problems = append(problems, fmt.Sprintf("the sections from %q on are %q, want %q",
			closingSections[0], got, closingSections))
	}
	return problems
}

// markdownSection returns the text under heading (a whole line, e.g.
// "## Configuration") up to the next heading of the same or a higher level.
// Lines in fenced code blocks are never headings.
func markdownSection(t testing.TB, path, heading string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	level := strings.Index(heading, " ")
	lines := strings.Split(string(b), "\n")
	start, fenced := -1, false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if start < 0 {
			if strings.TrimSpace(line) == heading {
				start = i + 1
			}
			continue
		}
		if n := headingLevel(line); n > 0 && n <= level {
			return strings.Join(lines[start:i], "\n")
		}
	}
	if start < 0 {
		t.Fatalf("sdktest: %s has no %q section", path, heading)
	}
	return strings.Join(lines[start:], "\n")
}

// headingLevel is the number of #s of a Markdown heading line, 0 for any
// other line.
func headingLevel(line string) int {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	if n > 0 && n < len(line) && line[n] == ' ' {
		return n
	}
	return 0
}
