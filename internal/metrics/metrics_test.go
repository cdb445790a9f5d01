package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/background"
	"github.com/rgap-project/rgap/internal/buildinfo"
	"github.com/rgap-project/rgap/internal/golden"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/ingest"
	"github.com/rgap-project/rgap/internal/pluginhost"
)

// fixed returns sources with known counters: two listen entries, two
// groups (one not ready yet), two outputs (one restarting).
func fixed() Sources {
	var drops ingest.Stats
	drops.Dropped[ingest.ReasonMAC] = 7
	drops.Dropped[ingest.ReasonLength] = 2
	drops.Dropped[ingest.ReasonReplay] = 3
	return Sources{
		Sockets: func() []Socket {
			return []Socket{{Listen: "127.0.0.1:8271", Received: 20, Open: true}, {Listen: "239.82.71.65:8271@eth0", Received: 3, Open: true}}
		},
		Drops: func() ingest.Stats { return drops },
		Accepted: func() []ingest.GroupCount {
			return []ingest.GroupCount{{ID: 1000, Accepted: 14}, {ID: 2000, Accepted: 0}}
		},
		AcceptedByKey: func() []ingest.KeyCount {
			return []ingest.KeyCount{{Group: 1000, Key: 0, Accepted: 4}, {Group: 1000, Key: 7, Accepted: 10}, {Group: 2000}}
		},
		Groups: func() []group.Stats {
			return []group.Stats{
				{ID: 1000, Members: 2, Ready: true, Started: true, Joins: 3, Leaves: 1},
				{ID: 2000, Started: true, ReadyIn: 11*time.Second + 300*time.Millisecond},
			}
		},
		Outputs: func() []pluginhost.OutputStats {
			return []pluginhost.OutputStats{
				{Index: 0, Kind: "eventlog", Running: true, Starts: 1, EventsSent: 5},
				{Index: 1, Kind: "dns", Starts: 3, Restarts: 2, ConsecutiveFailures: 2, Hung: 1, EventsSent: 9},
			}
		},
		Build:  buildinfo.Info{Version: "v1.2.0", Revision: "0123456789ab", GoVersion: "go1.26.8"},
		Config: func() (bool, time.Time) { return true, time.Unix(1700000000, 500_000_000) },
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// TestMetricsGolden: the whole rgap_* exposition for fixed counters.
func TestMetricsGolden(t *testing.T) {
	code, body := get(t, Handler(fixed(), nil), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	golden.Check(t, "testdata/metrics.golden", "GET /metrics", []byte(body))
}

// TestEverySeriesFromTheStart: with nothing received yet, every drop
// reason, listen entry, group and output has its series, at 0.
func TestEverySeriesFromTheStart(t *testing.T) {
	src := Sources{
		Sockets:  func() []Socket { return []Socket{{Listen: ":8271", Open: true}} },
		Drops:    func() ingest.Stats { return ingest.Stats{} },
		Accepted: func() []ingest.GroupCount { return []ingest.GroupCount{{ID: 5}} },
		Groups:   func() []group.Stats { return []group.Stats{{ID: 5}} },
		Outputs:  func() []pluginhost.OutputStats { return []pluginhost.OutputStats{{Index: 0, Kind: "noop"}} },
	}
	_, body := get(t, Handler(src, nil), "/metrics")
	want := []string{
		`rgap_announcements_received_total{listen=":8271"} 0`,
		`rgap_announcements_accepted_total{group="5"} 0`,
		`rgap_group_members{group="5"} 0`,
		`rgap_group_ready{group="5"} 0`,
		`rgap_group_joins_total{group="5"} 0`,
		`rgap_group_leaves_total{group="5"} 0`,
		`rgap_output_up{kind="noop",output="0"} 0`,
		`rgap_output_restarts_total{kind="noop",output="0"} 0`,
		`rgap_output_hangs_total{kind="noop",output="0"} 0`,
		`rgap_output_events_total{kind="noop",output="0"} 0`,
		`rgap_config_last_reload_successful 1`,
	}
	for _, r := range ingest.Reasons() {
		want = append(want, `rgap_announcements_dropped_total{reason="`+r.String()+`"} 0`)
	}
	for _, w := range want {
		if !strings.Contains(body, w+"\n") {
			t.Errorf("no line %q in\n%s", w, body)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	closed := fixed()
	closed.Sockets = func() []Socket {
		return []Socket{{Listen: "127.0.0.1:8271", Open: true}, {Listen: "[::1]:8271", Open: false}}
	}
	ready := fixed()
	ready.Groups = func() []group.Stats { return []group.Stats{{ID: 1000, Ready: true, Started: true}} }
	ready.Outputs = func() []pluginhost.OutputStats {
		return []pluginhost.OutputStats{{Index: 0, Kind: "dns", Running: true}}
	}
	noOutputs := ready
	noOutputs.Outputs = nil
	states := fixed()
	states.Groups = func() []group.Stats {
		return []group.Stats{{ID: 1}, {ID: 2, Started: true, ReadyIn: 200 * time.Millisecond}, {ID: 3, Started: true, ReadyIn: 12 * time.Second}}
	}
	states.Outputs = func() []pluginhost.OutputStats {
		return []pluginhost.OutputStats{
			{Index: 0, Kind: "noop"},
			{Index: 1, Kind: "dns", Starts: 1},
			{Index: 2, Kind: "x", LastError: "output 2 (kind \"x\"): sha256 mismatch"},
			{Index: 3, Kind: "log", Running: true},
		}
	}
	tests := []struct {
		name string
		src  Sources
		path string
		code int
		body string
	}{
		{"healthy", fixed(), "/healthz", 200, "ok\n"},
		{"a socket closed", closed, "/healthz", 503, "listen [::1]:8271: socket closed\n"},
		{"ready", ready, "/readyz", 200, "ok\n"},
		{"ready without outputs", noOutputs, "/readyz", 200, "ok\n"},
		{"group waiting and output restarting", fixed(), "/readyz", 503,
			"group 2000: not ready (readiness delay 12s left)\noutput 1 (dns): restarting, attempt 3\n"},
		{"every not-ready state", states, "/readyz", 503, "group 1: not ready (not started)\n" +
			"group 2: not ready (readiness delay 1s left)\n" +
			"group 3: not ready (readiness delay 12s left)\n" +
			"output 0 (noop): starting\n" +
			"output 1 (dns): starting\n" +
			"output 2 (x): not started: output 2 (kind \"x\"): sha256 mismatch\n"},
		{"not found", fixed(), "/", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, Handler(tc.src, nil), tc.path)
			if code != tc.code || (tc.body != "" && body != tc.body) {
				t.Errorf("GET %s = %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
			}
		})
	}
}

// TestServer: a real server on a loopback port serves the Go and process
// collectors beside rgap's series, and stops when its context ends.
func TestServer(t *testing.T) {
	s, err := Listen("127.0.0.1:0", fixed())
	if err != nil {
		t.Fatal(err)
	}
	srv := background.Start(t, "Serve", 5*time.Second, s.Serve)
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, w := range []string{"go_goroutines ", "process_resident_memory_bytes ", "rgap_build_info{"} {
		if !strings.Contains(string(body), w) {
			t.Errorf("/metrics has no %q", w)
		}
	}
	srv.Stop()
	if _, err := Listen(s.Addr().String(), fixed()); err != nil {
		t.Errorf("the address is still taken after Serve returned: %v", err)
	}
}

func TestListenNamesTheAddress(t *testing.T) {
	s, err := Listen("127.0.0.1:0", fixed())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }() // the test is over; only the port is released
	_, err = Listen(s.Addr().String(), fixed())
	if err == nil || !strings.Contains(err.Error(), "http_listen "+s.Addr().String()) {
		t.Fatalf("second Listen = %v, want an error naming http_listen and the address", err)
	}
}
