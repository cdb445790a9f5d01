package haproxy

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestParseServersState: answers captured from HAProxy 2.6 and broken ones.
func TestParseServersState(t *testing.T) {
	real, err := os.ReadFile("testdata/servers-state-2.6.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(real), "\n")
	header := lines[1]
	tests := []struct {
		name    string
		answer  string
		backend string
		want    []server
		err     string
	}{
		{name: "captured answer, one backend", answer: string(real), backend: "be", want: []server{
			{name: "rgap1", addr: "127.0.0.21", port: 8080, admin: 4, weight: 10, iweight: 1},
			{name: "rgap2", addr: "0.0.0.0", port: 80, admin: 5, weight: 1, iweight: 1},
			{name: "rgap3", addr: "0.0.0.0", port: 80, admin: 5, weight: 1, iweight: 1},
		}},
		{name: "rows of other backends are skipped", answer: string(real), backend: "dyn", want: []server{
			{name: "static1", addr: "127.0.0.9", port: 80, admin: 0, weight: 1, iweight: 1},
		}},
		{name: "empty backend", answer: "1\n" + header + "\n\n", backend: "be"},
		{name: "columns found by name", answer: "1\n# srv_port be_name srv_uweight srv_name srv_admin_state srv_addr extra srv_iweight\n81 be 7 s1 1 ::1 x 2\n", backend: "be",
			want: []server{{name: "s1", addr: "::1", port: 81, admin: 1, weight: 7, iweight: 2}}},
		{name: "unknown backend", answer: "Can't find backend.\n\n", backend: "x", err: "no such backend"},
		{name: "permission denied", answer: "Permission denied\n\n", backend: "be", err: `want format version 1): "Permission denied"`},
		{name: "no header", answer: "1\n", backend: "be", err: "no column header"},
		{name: "missing column", answer: "1\n# be_name srv_name\n", backend: "be", err: "column srv_addr missing"},
		{name: "short line", answer: "1\n" + header + "\n3 be 1 rgap1\n", backend: "be", err: "line 3: 4 fields, too few"},
		{name: "bad admin state", answer: "1\n" + header + "\n3 be 1 rgap1 0.0.0.0 0 x 1 1 2 1 0 0 8 0 0 0 - 80 - 0 0 - - 0\n", backend: "be", err: `srv_admin_state "x"`},
		{name: "bad weight", answer: "1\n" + header + "\n3 be 1 rgap1 0.0.0.0 0 5 -1 1 2 1 0 0 8 0 0 0 - 80 - 0 0 - - 0\n", backend: "be", err: `srv_uweight "-1"`},
		{name: "bad initial weight", answer: "1\n" + header + "\n3 be 1 rgap1 0.0.0.0 0 5 1 x 2 1 0 0 8 0 0 0 - 80 - 0 0 - - 0\n", backend: "be", err: `srv_iweight "x"`},
		{name: "bad port", answer: "1\n" + header + "\n3 be 1 rgap1 0.0.0.0 0 5 1 1 2 1 0 0 8 0 0 0 - 70000 - 0 0 - - 0\n", backend: "be", err: `srv_port "70000"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseServersState(tc.answer, tc.backend)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzParseServersState: whatever comes from the socket, the parser
// returns rows of the asked backend with names, or an error; never a panic.
func FuzzParseServersState(f *testing.F) {
	real, err := os.ReadFile("testdata/servers-state-2.6.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(real), "be")
	f.Add("1\n# be_name srv_name srv_addr srv_admin_state srv_uweight srv_port srv_iweight\nbe s 1.2.3.4 0 1 80 1\n", "be")
	f.Add("Can't find backend.\n", "be")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, answer, backend string) {
		rows, err := parseServersState(answer, backend)
		if err != nil {
			if rows != nil {
				t.Errorf("rows %v with error %v", rows, err)
			}
			return
		}
		for _, r := range rows {
			if r.name == "" || strings.ContainsAny(r.name, " \n") {
				t.Errorf("row with a bad name: %+v", r)
			}
		}
	})
}
