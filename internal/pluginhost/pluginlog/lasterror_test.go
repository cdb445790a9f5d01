package pluginlog

import (
	"testing"

	"github.com/hashicorp/go-hclog"
)

// LastError keeps the latest error-level entry with its error field, for
// the host's line about a plugin that exited.
func TestLastError(t *testing.T) {
	cases := []struct {
		name  string
		lines string
		want  string
	}{
		{"none", `{"@level":"info","@message":"started"}` + "\n" + "plain text\n", ""},
		{"with error field", `{"@level":"error","@message":"output failed","error":"bind: address already in use","kind":"dns"}` + "\n", "output failed: bind: address already in use"},
		{"without error field", `{"@level":"error","@message":"gave up"}` + "\n", "gave up"},
		{"latest wins", `{"@level":"error","@message":"first","error":"a"}` + "\n" + `{"@level":"error","@message":"second","error":"b"}` + "\n" + `{"@level":"info","@message":"after"}` + "\n", "second: b"},
		{"control characters escaped", `{"@level":"error","@message":"bad","error":"x\u001b[31my"}` + "\n", `bad: x\u001b[31my`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter(hclog.NewNullLogger())
			if _, err := w.Write([]byte(tc.lines)); err != nil {
				t.Fatal(err)
			}
			if got := w.LastError(); got != tc.want {
				t.Errorf("LastError() = %q, want %q", got, tc.want)
			}
		})
	}
}
