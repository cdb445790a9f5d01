package listenerlog

import (
	"errors"
	"reflect"
	"testing"
)

// A line as go-hclog writes it with JSONFormat.
const totalsLine = `{"@level":"info","@message":"ingest totals","@module":"rgap","@timestamp":"2026-11-25T00:05:05.604919Z","accepted":1999990,"joined":10000,"refreshed":1989990,"dropped_length":1,"dropped_version":2,"dropped_unknown_group":3,"dropped_bad_mac":4,"dropped_clock_skew":0,"dropped_replay":5,"received":2000000,"truncated":0}`

func TestTotals(t *testing.T) {
	const drops = `"dropped_length":0,"dropped_version":0,"dropped_unknown_group":0,"dropped_bad_mac":0,"dropped_clock_skew":0`
	tests := []struct {
		name    string
		line    string
		want    Totals
		wantErr bool
	}{
		{"full", totalsLine, Totals{Received: 2000000, Accepted: 1999990, Joined: 10000,
			Dropped: map[string]uint64{"length": 1, "version": 2, "unknown_group": 3, "bad_mac": 4, "clock_skew": 0, "replay": 5}}, false},
		{"max uint64", `{"@message":"ingest totals","accepted":18446744073709551615,"joined":0,"received":18446744073709551615,` + drops + `}`,
			Totals{Received: 1<<64 - 1, Accepted: 1<<64 - 1, Dropped: map[string]uint64{"length": 0, "version": 0, "unknown_group": 0, "bad_mac": 0, "clock_skew": 0}}, false},
		{"no drop counter", `{"@message":"ingest totals","accepted":1,"joined":1,"received":1}`, Totals{}, true},
		{"bad drop counter", `{"@message":"ingest totals","accepted":1,"joined":1,"received":1,"dropped_replay":-1}`, Totals{}, true},
		{"missing received", `{"@message":"ingest totals","accepted":1,"joined":1,` + drops + `}`, Totals{}, true},
		{"missing joined", `{"@message":"ingest totals","accepted":1,"received":1,` + drops + `}`, Totals{}, true},
		{"negative", `{"@message":"ingest totals","accepted":-1,"joined":0,"received":1,` + drops + `}`, Totals{}, true},
		{"string", `{"@message":"ingest totals","accepted":"1","joined":0,"received":1,` + drops + `}`, Totals{}, true},
		{"other message", `{"@message":"listening","address":"127.0.0.1:1"}`, Totals{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := Parse(tt.line)
			if !ok {
				t.Fatalf("Parse(%s) not ok", tt.line)
			}
			got, err := l.Totals()
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Totals = %+v, %v; want an error wrapping ErrMalformed", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Totals = %+v, %v; want %+v", got, err, tt.want)
			}
			var sum uint64
			for _, d := range tt.want.Dropped {
				sum += d
			}
			if got.DroppedTotal() != sum {
				t.Errorf("DroppedTotal = %d, want %d", got.DroppedTotal(), sum)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		line    string
		ok      bool
		message string
		address string
	}{
		{`{"@level":"info","@message":"listening","@module":"rgap","address":"127.0.0.1:8282","spec":"127.0.0.1:8282"}`, true, "listening", "127.0.0.1:8282"},
		{"  " + totalsLine + "\r", true, "ingest totals", ""},
		{`{"@message":"listening","address":5}`, true, "listening", ""},
		{`2025-01-01T00:00:00Z [INFO]  rgap: listening: address=127.0.0.1:8282`, false, "", ""},
		{"gc 1 @0.01s 2%: ...", false, "", ""},
		{`{"@message":5}`, false, "", ""},
		{`{"msg":"no hclog message"}`, false, "", ""},
		{`{"@message":"cut off`, false, "", ""},
		{`{broken`, false, "", ""},
		{`panic: boom`, false, "", ""},
		{``, false, "", ""},
	}
	for _, tt := range tests {
		l, ok := Parse(tt.line)
		if ok != tt.ok || l.Message != tt.message || l.Str("address") != tt.address {
			t.Errorf("Parse(%q) = %q address %q, %v; want %q address %q, %v", tt.line, l.Message, l.Str("address"), ok, tt.message, tt.address, tt.ok)
		}
		if m := Matching(func(l Line) bool { return l.Message == "listening" })(tt.line); m != (tt.ok && tt.message == "listening") {
			t.Errorf("Matching(listening)(%q) = %v", tt.line, m)
		}
	}
}

func TestUint(t *testing.T) {
	l, _ := Parse(`{"@message":"output plugin failed; restarting","consecutive_failures":4,"bad":"soon"}`)
	if got, err := l.Uint("consecutive_failures"); err != nil || got != 4 {
		t.Errorf("Uint(consecutive_failures) = %v, %v; want 4", got, err)
	}
	for _, key := range []string{"bad", "absent"} {
		if _, err := l.Uint(key); !errors.Is(err, ErrMalformed) {
			t.Errorf("Uint(%s) = %v, want ErrMalformed", key, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(totalsLine)
	f.Add(`{"@message":"listening","address":"127.0.0.1:1"}`)
	f.Fuzz(func(t *testing.T, s string) {
		if l, ok := Parse(s); ok {
			if _, err := l.Totals(); err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("Totals error %v does not wrap ErrMalformed", err)
			}
			_ = l.Str("address")
			_ = l.Str("backoff")
		}
	})
}
