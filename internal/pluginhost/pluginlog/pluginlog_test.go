package pluginlog

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line    string
		ok      bool
		level   hclog.Level
		message string
		args    string
	}{
		{`{"@level":"warn","@message":"disk full","@timestamp":"2026-03-01T12:00:00.000000Z","@module":"hostsfile","path":"/etc/hosts","n":3}`,
			true, hclog.Warn, "disk full", "[module hostsfile n 3 path /etc/hosts]"},
		{`{"@message":"no level"}`, true, hclog.Info, "no level", "[]"},
		{`{"@level":"TRACE","@message":"x"}`, true, hclog.Trace, "x", "[]"},
		{`{"@level":"error","@message":"line1\nline2\u001b[31m"}`, true, hclog.Error, `line1\nline2\u001b[31m`, "[]"},
		{`{"@level":"info","@message":"m","nested":{"a":["b\n"]}}`, true, hclog.Info, "m", `[nested {"a":["b\n"]}]`},
		{`{"@level":"info","@message":"m","@":1}`, true, hclog.Info, "m", "[_ 1]"},
		// go-plugin's own parser panics on these three.
		{`{"@level":12,"@message":"x"}`, false, 0, "", ""},
		{`{"@message":[]}`, false, 0, "", ""},
		{`{"@message":"x","@timestamp":5}`, true, hclog.Info, "x", "[]"},
		{`{"@level":"off","@message":"x"}`, false, 0, "", ""},
		{`{"@level":"loud","@message":"x"}`, false, 0, "", ""},
		{`[1,2]`, false, 0, "", ""},
		{`{not json`, false, 0, "", ""},
		{`plain text`, false, 0, "", ""},
		{``, false, 0, "", ""},
	}
	for _, tt := range tests {
		e, ok := ParseLine([]byte(tt.line))
		if ok != tt.ok {
			t.Errorf("ParseLine(%s) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if e.Level != tt.level || e.Message != tt.message || fmtArgs(e.Args) != tt.args {
			t.Errorf("ParseLine(%s) = %v %q %s; want %v %q %s", tt.line, e.Level, e.Message, fmtArgs(e.Args), tt.level, tt.message, tt.args)
		}
	}
}

func fmtArgs(a []any) string {
	parts := make([]string, len(a))
	for i, v := range a {
		switch v := v.(type) {
		case string:
			parts[i] = v
		case float64:
			parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"a\nb":             `a\nb`,
		"tab\there":        `tab\there`,
		"esc\x1b[0m":       `esc\u001b[0m`,
		"bad\xffutf8":      `bad\xffutf8`,
		"ünïcödé ok":       "ünïcödé ok",
		"c1 \u0085 ctl":    `c1 \u0085 ctl`,
		"\r\n2026 [ERROR]": `\r\n2026 [ERROR]`,
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// The writer logs JSON entries at their level, other lines at debug (error
// after a Go panic), never lets a plugin forge a log line, and bounds long
// lines.
func TestWriter(t *testing.T) {
	var out bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Trace, DisableTime: true})
	w := NewWriter(log)
	input := strings.Join([]string{
		`{"@level":"warn","@message":"careful","k":"v"}`,
		`just text`,
		`{"@level":12,"@message":[]}`,
		"fake\n[ERROR] forged",
		`panic: oh no`,
		`goroutine 1 [running]:`,
		strings.Repeat("y", MaxLine+100),
		`{"@level":"info","@message":"after"}`,
	}, "\n") + "\n"
	// Feed in awkward chunks.
	for len(input) > 0 {
		n := min(len(input), 7777)
		if _, err := w.Write([]byte(input[:n])); err != nil {
			t.Fatal(err)
		}
		input = input[n:]
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	wantPrefixes := []string{
		"[WARN]  careful: k=v",
		"[DEBUG] just text",
		`[DEBUG] {"@level":12,"@message":[]}`,
		"[DEBUG] fake",
		"[DEBUG] [ERROR] forged",
		"[ERROR] panic: oh no",
		"[ERROR] goroutine 1 [running]:",
		"[ERROR] yyyy",
		"[INFO]  after",
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(lines), len(wantPrefixes), clip(out.String()))
	}
	for i, p := range wantPrefixes {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("line %d = %q, want prefix %q", i, clip(lines[i]), p)
		}
	}
	if long := lines[7]; len(long) > MaxLine+100 || !strings.Contains(long, "truncated_at=65536") {
		t.Errorf("long line logged with %d bytes, want it truncated and marked", len(long))
	}
	tail := w.Tail()
	if !strings.HasSuffix(tail, "after") || strings.Count(tail, " | ") != tailLines-1 {
		t.Errorf("Tail() = %q", tail)
	}
}

func TestWriterFlushAndTailOfPartialLine(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Debug, DisableTime: true}))
	if _, err := w.Write([]byte("This binary is a plugin.\nno newline at the end")); err != nil {
		t.Fatal(err)
	}
	if got := w.Tail(); got != "This binary is a plugin. | no newline at the end" {
		t.Errorf("Tail() = %q", got)
	}
	w.Flush()
	if !strings.Contains(out.String(), "[DEBUG] no newline at the end") {
		t.Errorf("Flush did not log the partial line: %q", out.String())
	}
}

// FuzzWriter: any bytes, in any chunking, are logged without panicking, and
// no log line the writer emits contains a raw newline from the input.
func FuzzWriter(f *testing.F) {
	f.Add([]byte(`{"@level":"info","@message":"x"}`+"\n"), 3)
	f.Add([]byte(`{"@level":12,"@message":[]}`+"\n"), 1)
	f.Add([]byte(`{"@message":"a\nb","k":{"x":[1,"\n"]}}`+"\n"), 5)
	f.Add([]byte("panic: x\n\x00\xff\n"), 2)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		var out bytes.Buffer
		w := NewWriter(hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Trace, DisableTime: true}))
		if chunk <= 0 {
			chunk = 1
		}
		for p := data; len(p) > 0; {
			n := min(len(p), chunk)
			if m, err := w.Write(p[:n]); m != n || err != nil {
				t.Fatalf("Write = %d, %v", m, err)
			}
			p = p[n:]
		}
		w.Flush()
		_ = w.Tail()
		// Every emitted line must start with a level marker: a plugin
		// cannot start a line of its own.
		for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
			if line != "" && !strings.HasPrefix(line, "[") {
				t.Fatalf("log line %q does not start with a level", line)
			}
		}
	})
}

// FuzzParseLine: never panics; a parsed entry's message has no raw control
// characters.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"@level":"warn","@message":"m","a":1}`))
	f.Add([]byte(`{"@message":[]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, ok := ParseLine(line)
		if !ok {
			return
		}
		for _, c := range []byte(e.Message) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("message %q has control character %#x", e.Message, c)
			}
		}
	})
}

// TestWriterNoRepeatedFieldsIntegers: a plugin line that repeats a field the
// host already tags its lines with prints it once, and whole numbers (which
// JSON carries as floats) print as integers.
func TestWriterNoRepeatedFieldsIntegers(t *testing.T) {
	var out bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Trace, DisableTime: true}).With("output", 2, "kind", "command")
	w := NewWriter(log)
	if _, err := fmt.Fprintln(w, `{"@level":"info","@message":"run finished","kind":"command","runs":123456789,"ratio":1.5,"took":"1.2s"}`); err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(out.String())
	want := `[INFO]  run finished: kind=command output=2 ratio=1.5 runs=123456789 took=1.2s`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
