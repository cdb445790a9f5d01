package sdk

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// upper is a yaml.Unmarshaler: it upper-cases a string.
type upper string

func (u *upper) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a word")
	}
	*u = upper(strings.ToUpper(n.Value))
	return nil
}

type mapping struct {
	Group     uint64       `yaml:"group"`
	Hostname  string       `yaml:"hostname"`
	Fallbacks []netip.Addr `yaml:"fallback_addresses"`
}

type common struct {
	Timeout time.Duration `yaml:"timeout"`
}

type testSpec struct {
	common   `yaml:",inline"`
	Interval time.Duration      `yaml:"interval"`
	Mappings []mapping          `yaml:"mappings"`
	Domains  map[string]mapping `yaml:"domains"`
	Retries  int8               `yaml:"retries"`
	Compress bool               `yaml:"compress"`
	Ratio    float64            `yaml:"ratio"`
	Bind     *netip.AddrPort    `yaml:"bind"`
	Net      netip.Prefix       `yaml:"net"`
	Word     upper              `yaml:"word"`
	ByID     map[uint64]string  `yaml:"by_id"`
	Extra    any                `yaml:"extra"`
	Pair     [2]string          `yaml:"pair"`
	Ignored  string             `yaml:"-"`
	Untagged string
}

func decodeText(t *testing.T, text string, line int, v any) error {
	t.Helper()
	c := newConfig([]byte(text), "rgap.yaml", line, nil, nil)
	return c.Decode(v)
}

func TestDecodeValues(t *testing.T) {
	text := `
interval: 1m30s
timeout: 5s
mappings:
  - group: 18446744073709551615
    hostname: 1000
    fallback_addresses: [1.2.3.4, "2001:db8::1", "::ffff:10.0.0.1"]
domains:
  worker.example.com: {group: 0x10}
retries: -3
compress: true
ratio: 2
bind: 127.0.0.1:53
net: 10.0.0.0/8
word: shout
by_id: {7: seven}
extra: {a: [1, two]}
pair: [a, b]
untagged: yes
`
	var got testSpec
	if err := decodeText(t, text, 0, &got); err != nil {
		t.Fatal(err)
	}
	bind := netip.MustParseAddrPort("127.0.0.1:53")
	want := testSpec{
		common:   common{Timeout: 5 * time.Second},
		Interval: 90 * time.Second,
		Mappings: []mapping{{
			Group:     1<<64 - 1,
			Hostname:  "1000",
			Fallbacks: []netip.Addr{netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:10.0.0.1")},
		}},
		Domains:  map[string]mapping{"worker.example.com": {Group: 16}},
		Retries:  -3,
		Compress: true,
		Ratio:    2,
		Bind:     &bind,
		Net:      netip.MustParsePrefix("10.0.0.0/8"),
		Word:     "SHOUT",
		ByID:     map[uint64]string{7: "seven"},
		Extra:    map[string]any{"a": []any{1, "two"}},
		Pair:     [2]string{"a", "b"},
		Untagged: "yes",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

func TestDecodeEmptyAndNull(t *testing.T) {
	for _, text := range []string{"", "   \n", "~\n", "null", "# only a comment\n", "{}"} {
		t.Run(fmt.Sprintf("%q", text), func(t *testing.T) {
			s := testSpec{Retries: 1, Interval: time.Second}
			if err := decodeText(t, text, 3, &s); err != nil {
				t.Fatalf("Decode = %v, want success", err)
			}
			if s.Retries != 1 || s.Interval != time.Second {
				t.Fatalf("defaults were overwritten: %+v", s)
			}
			var m map[string]any
			if err := decodeText(t, text, 3, &m); err != nil || m == nil || len(m) != 0 {
				t.Fatalf("into a map: %v, %v; want an empty map", m, err)
			}
		})
	}
}

func TestDecodeNullKeepsDefaultsAndClearsLists(t *testing.T) {
	s := testSpec{Retries: 1, Mappings: []mapping{{Group: 1}}}
	if err := decodeText(t, "retries: ~\nmappings: null\n", 0, &s); err != nil {
		t.Fatal(err)
	}
	if s.Retries != 1 || s.Mappings != nil {
		t.Fatalf("got retries %d, mappings %v; want the default 1 and no list", s.Retries, s.Mappings)
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	text := `
domains:
  a: &base {group: 1, hostname: shared}
  b:
    <<: *base
    group: 2
`
	var s testSpec
	if err := decodeText(t, text, 0, &s); err != nil {
		t.Fatal(err)
	}
	if got := s.Domains["b"]; got.Group != 2 || got.Hostname != "shared" {
		t.Fatalf("merged mapping = %+v; want group 2 (explicit) and hostname from the anchor", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int // OutputSpec.line
		want []string
	}{
		{"unknown key", "intervall: 5s\n", 0,
			[]string{"rgap.yaml:1: intervall: unknown key (valid keys here: timeout, interval, mappings, domains, retries, compress, ratio, bind, net, word, by_id, extra, pair, untagged)"}},
		{"nested unknown key", "mappings:\n  - group: 1\n    hostnme: x\n", 0,
			[]string{"rgap.yaml:3: mappings[0].hostnme: unknown key (valid keys here: group, hostname, fallback_addresses)"}},
		{"map key path", "domains:\n  w.example.com:\n    grop: 1\n", 0,
			[]string{`rgap.yaml:3: domains["w.example.com"].grop: unknown key (valid keys here: group, hostname, fallback_addresses)`}},
		{"bare number duration", "interval: 5\n", 0,
			[]string{`rgap.yaml:1: interval: want a duration like "5s" or "1m30s", got integer 5`}},
		{"bad duration", "timeout: soon\n", 0,
			[]string{`rgap.yaml:1: timeout: want a duration like "5s" or "1m30s", got string "soon"`}},
		{"negative uint", "mappings: [{group: -1}]\n", 0,
			[]string{"rgap.yaml:1: mappings[0].group: want a non-negative integer, got integer -1"}},
		{"quoted int", "mappings: [{group: \"5\"}]\n", 0,
			[]string{`rgap.yaml:1: mappings[0].group: want a non-negative integer, got string "5"`}},
		{"overflow", "retries: 300\n", 0,
			[]string{"rgap.yaml:1: retries: 300 is out of range for int8"}},
		{"bool", "compress: yes\n", 0,
			[]string{`rgap.yaml:1: compress: want true or false, got string "yes"`}},
		{"address", "mappings:\n- fallback_addresses:\n  - 1.2.3.4\n  - 1.2.3\n", 0,
			[]string{`rgap.yaml:4: mappings[0].fallback_addresses[1]: want an IP address, got string "1.2.3"`}},
		{"empty address", "mappings: [{fallback_addresses: [\"\"]}]\n", 0,
			[]string{`rgap.yaml:1: mappings[0].fallback_addresses[0]: want an IP address, got string ""`}},
		{"list for scalar", "retries: [1]\n", 0,
			[]string{"rgap.yaml:1: retries: want an integer, got a list"}},
		{"scalar for list", "mappings: 5\n", 0,
			[]string{"rgap.yaml:1: mappings: want a list, got integer 5"}},
		{"scalar spec", "5\n", 0,
			[]string{"rgap.yaml:1: want a mapping with keys timeout, interval, mappings, domains, retries, compress, ratio, bind, net, word, by_id, extra, pair, untagged; got integer 5"}},
		{"unmarshaler error", "word: [a]\n", 0,
			[]string{"rgap.yaml:1: word: want a word"}},
		{"array length", "pair: [a]\n", 0,
			[]string{"rgap.yaml:1: pair: want a list of 2 items, got 1"}},
		{"map key type", "by_id: {x: y}\n", 0,
			[]string{`rgap.yaml:1: by_id.x: want a non-negative integer, got string "x"`}},
		{"repeated key", "retries: 1\nretries: 2\n", 0,
			[]string{"rgap.yaml:2: retries: key is repeated (first at line 1)"}},
		{"ignored field is unknown", "Ignored: x\n", 0,
			[]string{"rgap.yaml:1: Ignored: unknown key (valid keys here: timeout, interval, mappings, domains, retries, compress, ratio, bind, net, word, by_id, extra, pair, untagged)"}},
		{"several at once", "retries: x\ncompress: 1\n", 0,
			[]string{`rgap.yaml:1: retries: want an integer, got string "x"`, "rgap.yaml:2: compress: want true or false, got integer 1"}},
		{"syntax", "a: b: c\n", 0,
			[]string{"rgap.yaml:1: invalid YAML: mapping values are not allowed in this context"}},
		// Line-preserving text: blank lines up to the spec's line.
		{"line preserving", "\n\n\n\n      retries: x\n", 5,
			[]string{`rgap.yaml:5: retries: want an integer, got string "x"`}},
		// Text starting at line 1 for a spec further down: shifted.
		{"compact text", "compress: true\nretries: x\n", 40,
			[]string{`rgap.yaml:41: retries: want an integer, got string "x"`}},
		{"compact syntax error", "a: b: c\n", 40,
			[]string{"rgap.yaml:40: invalid YAML: mapping values are not allowed in this context"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testSpec
			err := decodeText(t, tt.text, tt.line, &s)
			if err == nil {
				t.Fatalf("Decode succeeded, want %q", tt.want)
			}
			var got []string
			for _, e := range flatten(err) {
				var de *DecodeError
				if !errors.As(e, &de) {
					t.Fatalf("error %v (%T) is not a *DecodeError", e, e)
				}
				got = append(got, de.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// TestDecodeErrorsDoNotEchoSecrets: a PSK pasted into a spec, as a value,
// an unknown key or a repeated key, is quoted at most 8 characters long.
func TestDecodeErrorsDoNotEchoSecrets(t *testing.T) {
	const psk = "8f1302643b0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431"
	for _, text := range []string{
		"retries: " + psk + "\n",
		"mappings: [{hostname: [x], group: " + psk + "}]\n",
		psk + ": 1\n",
		"mappings: [{group: 1, " + psk + ": x}]\n",
		"word: x\n" + psk + ": 1\n" + psk + ": 2\n",
		"bind: *" + psk + "\n",
	} {
		var s testSpec
		err := decodeText(t, text, 0, &s)
		if err == nil {
			t.Errorf("%q: no error", text)
			continue
		}
		for i := 0; i+9 <= len(psk); i++ {
			if strings.Contains(err.Error(), psk[i:i+9]) {
				t.Errorf("%q: error repeats 9 characters of the PSK: %v", text, err)
				break
			}
		}
	}
}

func TestDecodeUnknownKeyIsSentinel(t *testing.T) {
	var s struct{}
	err := decodeText(t, "kind: x\n", 0, &s)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Decode = %v, want an error wrapping ErrUnknownKey", err)
	}
	var de *DecodeError
	if !errors.As(err, &de) || de.Key != "kind" || de.Line != 1 || !strings.Contains(de.Error(), "takes no settings") {
		t.Fatalf("Decode = %#v, want key kind at line 1 saying the output takes no settings", err)
	}
}

func TestDecodeNeedsPointer(t *testing.T) {
	var s testSpec
	if err := decodeText(t, "retries: 1\n", 0, s); err == nil {
		t.Fatal("Decode into a non-pointer succeeded")
	}
}

// bomb nests without end, so aliases can expand it exponentially.
type bomb []bomb

func TestDecodeAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [[], [], [], [], [], [], [], [], [], []]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	var v map[string]bomb
	err := decodeText(t, b.String(), 0, &v)
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("Decode of an alias bomb = %v; want a too-large error", err)
	}
}

func TestErrorfLines(t *testing.T) {
	text := "\n\nmappings:\n  - group: 1\n    hostname: a\n  - group: 2\ndomains:\n  w.example.com:\n    group: 3\n"
	c := newConfig([]byte(text), "rgap.yaml", 3, nil, nil)
	tests := []struct {
		key  string
		line int
	}{
		{"mappings[1].group", 6},
		{"mappings[1].hostname", 6}, // missing: the mapping that lacks it
		{"mappings[0].hostname", 5},
		{`domains["w.example.com"].group`, 9},
		{"nothing", 3},
		{"mappings[9]", 3},
		{"", 3},
		{"[[[", 3},
	}
	for _, tt := range tests {
		err := c.Errorf(tt.key, "bad %d", 1)
		var de *DecodeError
		if !errors.As(err, &de) || de.Line != tt.line || de.Key != tt.key || de.Err.Error() != "bad 1" {
			t.Errorf("Errorf(%q) = %#v; want line %d", tt.key, err, tt.line)
		}
	}
	empty := newConfig(nil, "rgap.yaml", 12, nil, nil)
	if err := empty.Errorf("interval", "required"); err.Error() != "rgap.yaml:12: interval: required" {
		t.Errorf("Errorf on an absent spec = %q; want the spec's line", err)
	}
}

// TestDecodeSpec: the spec is decoded strictly before validate runs, and
// validate is given the listener's groups and an error builder that finds
// the key's line.
func TestDecodeSpec(t *testing.T) {
	groups := []GroupInfo{{ID: 7}, {ID: 9}}
	validate := func(sp *mapping, known []GroupInfo, errorf ErrorfFunc) (string, error) {
		if !reflect.DeepEqual(known, groups) {
			t.Errorf("validate given groups %v, want %v", known, groups)
		}
		if sp.Hostname == "" {
			return "", errorf("hostname", "required")
		}
		return fmt.Sprintf("%s in %d", sp.Hostname, sp.Group), nil
	}
	tests := []struct{ text, want, wantErr string }{
		{"group: 7\nhostname: a\n", "a in 7", ""},
		{"group: 7\n", "", "rgap.yaml:4: hostname: required"},
		{"group: 7\nhost: a\n", "", `rgap.yaml:5: host: unknown key`},
	}
	for _, tt := range tests {
		c := newConfig([]byte(tt.text), "rgap.yaml", 4, groups, nil)
		got, err := DecodeSpec(c, validate)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.HasPrefix(err.Error(), tt.wantErr)) {
			t.Errorf("DecodeSpec(%q) = %q, %v; want %q, %q", tt.text, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"", "interval: 5s\n", "mappings: [{group: 1, fallback_addresses: [1.2.3.4]}]",
		"domains: {a: {group: 1}}\n", "a: &x [*x]", "<<: {retries: 1}", "<<: [*a]",
		"by_id: {1: a}", "extra: [[[[1]]]]", "word: x", "- 1\n- 2", "? [a]\n: b", "bind: '[::1]:53'",
	} {
		f.Add([]byte(s), uint16(0))
	}
	f.Fuzz(func(t *testing.T, text []byte, line uint16) {
		c := newConfig(text, "rgap.yaml", int(line), nil, nil)
		var s testSpec
		err := c.Decode(&s)
		for _, e := range flatten(err) {
			var de *DecodeError
			if e != nil && !errors.As(e, &de) {
				t.Fatalf("error %v (%T) is not a *DecodeError", e, e)
			}
		}
		var m map[string]any
		_ = c.Decode(&m)
		var a any
		_ = c.Decode(&a)
		_ = c.Errorf(string(text), "x")
	})
}
