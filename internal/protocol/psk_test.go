package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

const testPSKHex = "8f1302643b0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431"

func TestParsePSK(t *testing.T) {
	want, err := hex.DecodeString(testPSKHex)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		testPSKHex,
		strings.ToUpper(testPSKHex),
		"8F1302643B0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431",
	} {
		p, err := ParsePSK(in)
		if err != nil {
			t.Errorf("ParsePSK(%q): %v", in, err)
			continue
		}
		if !bytes.Equal(p[:], want) {
			t.Errorf("ParsePSK(%q) = %x, want %x", in, p[:], want)
		}
		if p.Hex() != testPSKHex {
			t.Errorf("Hex() = %q, want %q", p.Hex(), testPSKHex)
		}
	}
}

func TestParsePSKErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "PSK must be 64 hex characters, got 0"},
		{"63 chars", testPSKHex[:63], "PSK must be 64 hex characters, got 63"},
		{"65 chars", testPSKHex + "0", "PSK must be 64 hex characters, got 65"},
		{"128 chars", testPSKHex + testPSKHex, "PSK must be 64 hex characters, got 128"},
		{"g at 5", "8f13g2643b0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431", "PSK has non-hex character 'g' at position 5"},
		{"first char", "x" + testPSKHex[1:], "PSK has non-hex character 'x' at position 1"},
		{"trailing newline", testPSKHex + "\n", "PSK has non-hex character '\\n' at position 65"},
		{"leading space", " " + testPSKHex, "PSK has non-hex character ' ' at position 1"},
		{"0x prefix", "0x" + testPSKHex[2:], "PSK has non-hex character 'x' at position 2"},
		{"non-ASCII counts characters", "ée", "PSK has non-hex character 'é' at position 1"},
		{"after non-ASCII", "0é0z", "PSK has non-hex character 'é' at position 2"},
		{"invalid UTF-8", "00\xff", "PSK has non-hex character '\uFFFD' at position 3"},
		{"base64 key", "jxMCZDsICSeXlMXMR/I2Vh10QrhddIvX0aWK/r6f9DE=", "PSK has non-hex character 'j' at position 1"},
	} {
		p, err := ParsePSK(tc.in)
		if err == nil {
			t.Errorf("%s: ParsePSK accepted %q", tc.name, tc.in)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s: error %q, want %q", tc.name, err, tc.want)
		}
		if !errors.Is(err, ErrPSK) {
			t.Errorf("%s: error %v does not wrap ErrPSK", tc.name, err)
		}
		if p != (PSK{}) {
			t.Errorf("%s: ParsePSK returned a non-zero key with its error", tc.name)
		}
	}
}

// TestPSKRedacted checks that no formatting path prints the key, including
// %x and %d, which would print a plain byte array's contents.
func TestPSKRedacted(t *testing.T) {
	p, err := ParsePSK(testPSKHex)
	if err != nil {
		t.Fatal(err)
	}
	type config struct {
		Name string
		PSK  PSK
	}
	secrets := []string{testPSKHex, strings.ToUpper(testPSKHex), fmt.Sprintf("%v", p[:]), fmt.Sprint(p[0]) + " "} // the bytes as a decimal list, as %v prints them
	var outputs []string
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%x", "%X", "%q", "%d", "%10v"} {
		outputs = append(outputs,
			fmt.Sprintf(verb, p),
			fmt.Sprintf(verb, &p),
			fmt.Sprintf(verb, config{"g", p}),
			fmt.Sprintf(verb, []PSK{p}),
			fmt.Sprintf(verb, NewKey(p)),
			fmt.Sprintf(verb, *NewKey(p)),
		)
	}
	js, err := json.Marshal(config{"g", p})
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js), p.String(), p.GoString())
	for _, out := range outputs {
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("output %q lacks the [redacted] marker", out)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output %q contains the key (%q)", out, s)
			}
		}
	}
	if got, want := fmt.Sprintf("%#v", p), "protocol.PSK{[redacted]}"; got != want {
		t.Errorf("%%#v = %q, want %q", got, want)
	}
}

func TestPSKUnmarshalText(t *testing.T) {
	var cfg struct{ PSK PSK }
	if err := json.Unmarshal([]byte(`{"PSK":"`+strings.ToUpper(testPSKHex)+`"}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.PSK.Hex() != testPSKHex {
		t.Errorf("decoded %s, want %s", cfg.PSK.Hex(), testPSKHex)
	}
	err := json.Unmarshal([]byte(`{"PSK":"abc"}`), &cfg)
	if !errors.Is(err, ErrPSK) || !strings.Contains(err.Error(), "got 3") {
		t.Errorf("bad PSK error = %v, want ErrPSK saying got 3", err)
	}
	if cfg.PSK.Hex() != testPSKHex {
		t.Errorf("failed decode changed the key to %s", cfg.PSK.Hex())
	}
}

func TestGeneratePSK(t *testing.T) {
	// A reader with known bytes gives exactly those bytes.
	seq := make([]byte, KeySize)
	for i := range seq {
		seq[i] = byte(i)
	}
	p, err := GeneratePSK(bytes.NewReader(seq))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p[:], seq) {
		t.Errorf("GeneratePSK = %x, want %x", p[:], seq)
	}

	// The default source gives distinct keys that round-trip through Hex.
	a, errA := GeneratePSK(nil)
	b, errB := GeneratePSK(nil)
	if errA != nil || errB != nil {
		t.Fatalf("GeneratePSK(nil): %v, %v", errA, errB)
	}
	if a == b || a == (PSK{}) {
		t.Errorf("GeneratePSK(nil) gave %s and %s", a.Hex(), b.Hex())
	}
	if back, err := ParsePSK(a.Hex()); err != nil || back != a {
		t.Errorf("ParsePSK(Hex()) = %s, %v", back.Hex(), err)
	}

	// A short or failing source is an error, not a weak key.
	if _, err := GeneratePSK(bytes.NewReader(seq[:31])); err == nil {
		t.Error("GeneratePSK accepted a 31-byte source")
	}
	boom := errors.New("boom")
	if _, err := GeneratePSK(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("GeneratePSK error = %v, want it to wrap %v", err, boom)
	}
}
