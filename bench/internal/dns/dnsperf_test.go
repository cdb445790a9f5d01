package dns

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/bench/internal/child"
)

func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

func TestParseDNSPerf(t *testing.T) {
	tests := []struct {
		file string
		want perfResult
	}{
		{"dnsperf-loss.txt", perfResult{
			Sent: 69901, Lost: 3589, QPS: 33101.597524,
			Codes: map[string]uint64{"NOERROR": 66312},
		}},
		{"dnsperf-codes.txt", perfResult{
			Sent: 41307, Lost: 0, QPS: 41287.347223,
			Codes: map[string]uint64{"NOERROR": 27538, "REFUSED": 13769},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := parseDNSPerf(readLines(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got.Codes, tc.want.Codes) {
				t.Errorf("codes = %v, want %v", got.Codes, tc.want.Codes)
			}
			if got.Sent != tc.want.Sent || got.Lost != tc.want.Lost || got.QPS != tc.want.QPS {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestNotNoError(t *testing.T) {
	r, err := parseDNSPerf(readLines(t, "dnsperf-codes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.notNoError(); got != 13769 {
		t.Errorf("notNoError = %d, want the 13769 REFUSED", got)
	}
}

func TestParseDNSPerfErrors(t *testing.T) {
	full := readLines(t, "dnsperf-loss.txt")
	without := func(prefix string) []string {
		var out []string
		for _, l := range full {
			if !strings.HasPrefix(strings.TrimSpace(l), prefix) {
				out = append(out, l)
			}
		}
		return out
	}
	replace := func(prefix, with string) []string {
		out := without(prefix)
		return append(out, with)
	}
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"dnsperf failed before statistics", []string{"Error: could not open datafile"}, `no "Queries sent" line`},
		{"no qps", without("Queries per second"), `no "Queries per second" line`},
		{"no lost", without("Queries lost"), `no "Queries lost" line`},
		{"bad count", replace("Queries sent", "  Queries sent:  lots"), "Queries sent:  lots"},
		{"bad codes", replace("Response codes", "  Response codes:  NOERROR"), "want NAME COUNT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseDNSPerf(tc.lines)
			if !errors.Is(err, errDNSPerfOutput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want errDNSPerfOutput mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLineBufDropsTimeoutLines(t *testing.T) {
	b := child.NewLines(isTimeoutLine)
	// Written in pieces that split lines, as a pipe delivers them.
	for _, part := range []string{"[Timeout] Query timed", " out: msg id 1\n  Queries ", "sent: 3\n[Timeout] x\npartial"} {
		if _, err := b.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	lines, dropped := b.Snapshot()
	if len(lines) != 1 || lines[0] != "  Queries sent: 3" || dropped != 2 {
		t.Errorf("lines %q, dropped %d; want the statistics line kept and 2 timeouts dropped", lines, dropped)
	}
	if got := b.Tail(5); got != "  Queries sent: 3\npartial" {
		t.Errorf("tail = %q", got)
	}
}

func TestDNSPerfArgs(t *testing.T) {
	got := strings.Join(dnsperfArgs("127.0.0.1", 5353, "/tmp/q", options{duration: 10 * time.Second, outstanding: 200}), " ")
	want := "dnsperf -s 127.0.0.1 -p 5353 -d /tmp/q -l 10 -c 2 -q 200 -t 2"
	if got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
}

func FuzzParseDNSPerf(f *testing.F) {
	for _, name := range []string{"dnsperf-loss.txt", "dnsperf-codes.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseDNSPerf(strings.Split(s, "\n"))
		if err == nil && r.QPS < 0 {
			t.Errorf("negative rate %v accepted", r.QPS)
		}
		if err != nil && !errors.Is(err, errDNSPerfOutput) {
			t.Errorf("error %v does not wrap errDNSPerfOutput", err)
		}
	})
}
