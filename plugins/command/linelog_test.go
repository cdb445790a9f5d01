package command

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

func TestLineLogger(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"split across writes", []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"blank lines skipped", []string{"\n\na\n\n"}, []string{"a"}},
		{"CRLF", []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"last line without newline", []string{"a\nb"}, []string{"a", "b"}},
		{"long line split", []string{long[:100], long[100:] + "\n"}, []string{long[:maxLine], long[maxLine:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := sdktest.NewLogSink(t, hclog.Trace)
			w := &lineLogger{log: sink.Logger(), level: hclog.Warn}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.flush()
			var got []string
			for _, e := range sink.Find(hclog.Warn, "command output") {
				got = append(got, e.Arg("line"))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzLineLogger feeds arbitrary program output, split into two writes:
// every forwarded line is non-empty, single-line and bounded, and no text
// is lost or invented (line endings aside).
func FuzzLineLogger(f *testing.F) {
	f.Add([]byte("a\nb\r\n\nc"), 3)
	f.Add([]byte(strings.Repeat("x", maxLine+5)+"\n"), maxLine)
	f.Add([]byte(strings.Repeat("x", maxLine-1)+"é€𝄞"), 7)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		split = min(max(split, 0), len(data))
		sink := sdktest.NewLogSink(t, hclog.Trace)
		w := &lineLogger{log: sink.Logger(), level: hclog.Info}
		for _, part := range [][]byte{data[:split], data[split:]} {
			if _, err := w.Write(part); err != nil {
				t.Fatal(err)
			}
		}
		w.flush()
		var got strings.Builder
		for _, e := range sink.Find(hclog.Info, "command output") {
			line := e.Arg("line")
			// The plugin's JSON log replaces invalid UTF-8 with longer
			// characters, so only valid input is held to the length bound.
			if line == "" || strings.Contains(line, "\n") || (utf8.Valid(data) && len(line) > maxLine) {
				t.Fatalf("forwarded line %q: empty, multi-line or longer than %d", line, maxLine)
			}
			got.WriteString(line)
		}
		strip := func(s string) string { return strings.NewReplacer("\r", "", "\n", "").Replace(s) }
		if utf8.Valid(data) && strip(got.String()) != strip(string(data)) {
			t.Fatalf("forwarded text %q, want %q", strip(got.String()), strip(string(data)))
		}
	})
}

func TestLineLoggerKeepsCharactersWhole(t *testing.T) {
	sink := sdktest.NewLogSink(t, hclog.Trace)
	w := &lineLogger{log: sink.Logger(), level: hclog.Info}
	text := strings.Repeat("x", maxLine-2) + "€uro\n" // "€" is 3 bytes, straddling maxLine
	if _, err := w.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	w.flush()
	var got []string
	for _, e := range sink.Find(hclog.Info, "command output") {
		got = append(got, e.Arg("line"))
	}
	if len(got) != 2 || got[0] != strings.Repeat("x", maxLine-2) || got[1] != "€uro" {
		t.Errorf("lines = %d %q..., want the long line cut before the €", len(got), got[len(got)-1])
	}
}
