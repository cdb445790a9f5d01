package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/config"
)

// A line as go-hclog writes it with JSONFormat.
const totalsLine = `{"@level":"info","@message":"ingest totals","@module":"rgap","@timestamp":"2025-01-01T00:00:00.000000Z","accepted":1999990,"joined":10000,"refreshed":1989990,"dropped_length":1,"dropped_version":2,"dropped_unknown_group":3,"dropped_bad_mac":4,"dropped_clock_skew":0,"received":2000000,"truncated":0}`

func TestParseTotals(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    ingestTotals
		wantErr bool
	}{
		{"full", totalsLine, ingestTotals{Received: 2000000, Accepted: 1999990, Dropped: []uint64{1, 2, 3, 4, 0}}, false},
		{"max uint64", `{"@message":"ingest totals","accepted":18446744073709551615,"received":18446744073709551615,"dropped_length":0,"dropped_version":0,"dropped_unknown_group":0,"dropped_bad_mac":0,"dropped_clock_skew":0}`,
			ingestTotals{Received: 1<<64 - 1, Accepted: 1<<64 - 1, Dropped: []uint64{0, 0, 0, 0, 0}}, false},
		{"missing reason", `{"@message":"ingest totals","accepted":1,"received":1,"dropped_length":0,"dropped_version":0,"dropped_unknown_group":0,"dropped_bad_mac":0}`, ingestTotals{}, true},
		{"missing received", `{"@message":"ingest totals","accepted":1,"dropped_length":0,"dropped_version":0,"dropped_unknown_group":0,"dropped_bad_mac":0,"dropped_clock_skew":0}`, ingestTotals{}, true},
		{"negative", `{"@message":"ingest totals","accepted":-1,"received":1,"dropped_length":0,"dropped_version":0,"dropped_unknown_group":0,"dropped_bad_mac":0,"dropped_clock_skew":0}`, ingestTotals{}, true},
		{"string", `{"@message":"ingest totals","accepted":"1","received":1,"dropped_length":0,"dropped_version":0,"dropped_unknown_group":0,"dropped_bad_mac":0,"dropped_clock_skew":0}`, ingestTotals{}, true},
		{"other message", `{"@message":"listening","address":"127.0.0.1:1"}`, ingestTotals{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := parseLogLine([]byte(tt.line))
			if !ok {
				t.Fatalf("parseLogLine(%s) not ok", tt.line)
			}
			got, err := l.totals()
			if tt.wantErr {
				if !errors.Is(err, errTotals) {
					t.Fatalf("totals = %+v, %v; want an error wrapping errTotals", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("totals = %+v, %v; want %+v", got, err, tt.want)
			}
			if got.droppedTotal() != sum(tt.want.Dropped) {
				t.Errorf("droppedTotal = %d, want %d", got.droppedTotal(), sum(tt.want.Dropped))
			}
		})
	}
}

func sum(xs []uint64) uint64 {
	var s uint64
	for _, x := range xs {
		s += x
	}
	return s
}

func TestParseLogLine(t *testing.T) {
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
		{`{"@message":5}`, false, "", ""},
		{`{"msg":"no hclog message"}`, false, "", ""},
		{`{"@message":"cut off`, false, "", ""},
		{`panic: boom`, false, "", ""},
		{``, false, "", ""},
	}
	for _, tt := range tests {
		l, ok := parseLogLine([]byte(tt.line))
		if ok != tt.ok || l.Message != tt.message || l.str("address") != tt.address {
			t.Errorf("parseLogLine(%q) = %q address %q, %v; want %q address %q, %v", tt.line, l.Message, l.str("address"), ok, tt.message, tt.address, tt.ok)
		}
	}
}

func FuzzParseLogLine(f *testing.F) {
	f.Add([]byte(totalsLine))
	f.Add([]byte(`{"@message":"listening","address":"127.0.0.1:1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, ok := parseLogLine(b); ok {
			l.totals()
			l.str("address")
		}
	})
}

// TestListenerConfigLoads checks that the configuration given to the
// listener is one it accepts, with the values the measurement relies on.
func TestListenerConfigLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.yaml")
	if err := os.WriteFile(path, []byte(listenerConfig(40123)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	if len(cfg.Listen) != 1 || cfg.Listen[0].Spec.String() != "127.0.0.1:40123" {
		t.Errorf("listen = %+v, want only 127.0.0.1:40123", cfg.Listen)
	}
	if len(cfg.Outputs) != 0 {
		t.Errorf("outputs = %+v, want none", cfg.Outputs)
	}
	if cfg.ReceiveBuffer != listenerReceiveBuffer {
		t.Errorf("receive_buffer = %d, want %d", cfg.ReceiveBuffer, listenerReceiveBuffer)
	}
	if len(cfg.Groups) != 1 {
		t.Fatalf("groups = %d, want 1", len(cfg.Groups))
	}
	g := cfg.Groups[0]
	if g.ID != benchGroup || g.PSK.Hex() != benchPSK || g.Expire != 5*time.Minute || g.ClockSkew != 5*time.Minute {
		t.Errorf("group = id %d expire %v skew %v (psk matches: %v), want id %d expire 5m skew 5m with the bench PSK",
			g.ID, g.Expire, g.ClockSkew, g.PSK.Hex() == benchPSK, benchGroup)
	}
}
