package yamlwalk

import "testing"

func TestDescribe(t *testing.T) {
	root := parseRoot(t, `
s: "5"
i: 5
f: 1.5
b: true
n: ~
l: [1]
m: {a: 1}
a: &a 5ec2e7c0ffee5ec2e7c0ffee
x: *a
t: !custom v
`)
	want := map[string][2]string{ // key: Describe, DescribeTyped
		"s": {`"5"`, `string "5"`},
		"i": {`"5"`, "integer 5"},
		"f": {`"1.5"`, "number 1.5"},
		"b": {`"true"`, "boolean true"},
		"n": {"null", "null"},
		"l": {"a list", "a list"},
		"m": {"a mapping", "a mapping"},
		"a": {`"5ec2e7c0..."`, `string "5ec2e7c0..."`},
		"x": {`"5ec2e7c0..."`, `string "5ec2e7c0..."`},
		"t": {`"v"`, `!custom "v"`},
	}
	var m Mappings
	for _, p := range m.Pairs(root, "") {
		if got := [2]string{Describe(p.Value), DescribeTyped(p.Value)}; got != want[p.Name] {
			t.Errorf("%s: got %q, want %q", p.Name, got, want[p.Name])
		}
	}
	if Describe(nil) != "null" || !IsNull(nil) {
		t.Errorf("a missing node is not null")
	}
}
