package e2e

// End-to-end tests of http_listen (issue 10, part 1): /metrics counts
// what was sent, by reason; /readyz follows the readiness delay and an
// output's restart; the address takes part in the bind check. Helpers
// here carry the metrics prefix.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// metricsGet fetches url; a connection error is returned, not fatal.
func metricsGet(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, string(b), err
}

// metricsPoll fetches url every 10ms until ok accepts the answer, failing
// the test after timeout; it returns the accepted body.
func metricsPoll(t *testing.T, url string, timeout time.Duration, what string, ok func(code int, body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := metricsGet(url)
		if err == nil && ok(code, body) {
			return body
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("GET %s: no %s within %v; last answer: %s", url, what, timeout, last)
	return ""
}

// metricsValue returns the value of the series written exactly as series
// (name and labels) in a /metrics body.
func metricsValue(t *testing.T, body, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no series %s in /metrics:\n%s", series, body)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMetricsAndReadiness runs a listener with a 2 s readiness delay and an
// eventlog output, the metrics address given by --http-listen over the
// http_listen key: /readyz is 503 naming the group, then 200; known good
// and bad datagrams show up in /metrics by reason; a killed plugin turns
// /readyz to 503 naming the output until it is back.
func TestMetricsAndReadiness(t *testing.T) {
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	keyPort, flagPort := freeTCPPort(t), freeTCPPort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf("listen: [%q]\nhttp_listen: 127.0.0.1:%d\ngroups:\n  - id: 1000\n    psk: %s\n    expire: 1h\n    readiness_delay: 2s\n  - id: 2000\n    psk: %s\n    expire: 1h\noutputs:\n  - kind: eventlog\n",
		listen, keyPort, psk1, psk2)
	l := startListener(t, cfg, "--log-level", "debug", "--http-listen", fmt.Sprintf("127.0.0.1:%d", flagPort))
	base := fmt.Sprintf("http://127.0.0.1:%d", flagPort)

	body := metricsPoll(t, base+"/readyz", 10*time.Second, "503 naming group 1000", func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && regexp.MustCompile(`(?m)^group 1000: not ready \(readiness delay [12]s left\)$`).MatchString(body)
	})
	if strings.Contains(body, "group 2000") {
		t.Errorf("group 2000 has no readiness delay, but /readyz lists it:\n%s", body)
	}
	if code, body, err := metricsGet(base + "/healthz"); err != nil || code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q %v, want 200 ok", code, body, err)
	}
	if _, _, err := metricsGet(fmt.Sprintf("http://127.0.0.1:%d/metrics", keyPort)); err == nil {
		t.Errorf("the http_listen key's address answers too; --http-listen should replace it")
	}
	metricsPoll(t, base+"/readyz", 10*time.Second, "200 after the readiness delay", func(code int, body string) bool {
		return code == http.StatusOK && body == "ok\n"
	})

	now := time.Now().UnixMicro()
	sendSigned(t, port, []signedAnnouncement{
		{psk1, 1000, "192.0.2.1", now},
		{psk1, 1000, "192.0.2.2", now},
		{psk1, 1000, "192.0.2.1", now + 1},                          // a refresh: accepted, no join
		{psk2, 1000, "192.0.2.3", now},                              // bad_mac
		{psk1, 3000, "192.0.2.3", now},                              // unknown_group
		{psk1, 1000, "224.0.0.1", now},                              // bad_address
		{psk1, 1000, "192.0.2.4", now - 2*time.Hour.Microseconds()}, // clock_skew
		{psk2, 2000, "192.0.2.9", now},
	})
	c, err := net.Dial("udp4", listen)
	if err != nil {
		t.Fatal(err)
	}
	version := make([]byte, 66)
	version[0] = 2
	for _, d := range [][]byte{make([]byte, 10), version} { // length, version
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close() // written already; nothing to report
	body = metricsPoll(t, base+"/metrics", 5*time.Second, "10 datagrams received", func(code int, body string) bool {
		return code == http.StatusOK && strings.Contains(body, fmt.Sprintf("rgap_announcements_received_total{listen=%q} 10\n", listen))
	})
	want := map[string]float64{
		`rgap_announcements_accepted_total{group="1000"}`:          3,
		`rgap_announcements_accepted_total{group="2000"}`:          1,
		`rgap_announcements_dropped_total{reason="length"}`:        1,
		`rgap_announcements_dropped_total{reason="version"}`:       1,
		`rgap_announcements_dropped_total{reason="unknown_group"}`: 1,
		`rgap_announcements_dropped_total{reason="bad_mac"}`:       1,
		`rgap_announcements_dropped_total{reason="bad_address"}`:   1,
		`rgap_announcements_dropped_total{reason="clock_skew"}`:    1,
		`rgap_group_members{group="1000"}`:                         2,
		`rgap_group_ready{group="1000"}`:                           1,
		`rgap_group_joins_total{group="1000"}`:                     2,
		`rgap_group_leaves_total{group="1000"}`:                    0,
		`rgap_group_members{group="2000"}`:                         1,
		`rgap_output_up{kind="eventlog",output="0"}`:               1,
		`rgap_output_restarts_total{kind="eventlog",output="0"}`:   0,
		`rgap_output_hangs_total{kind="eventlog",output="0"}`:      0,
		`rgap_config_last_reload_successful`:                       1,
	}
	for series, v := range want {
		if got := metricsValue(t, body, series); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	if ts := metricsValue(t, body, "rgap_config_last_reload_success_timestamp_seconds"); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("config loaded at %v, want about the start", time.Unix(int64(ts), 0))
	}
	for _, s := range []string{"rgap_build_info{goversion=", "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(body, s) {
			t.Errorf("/metrics has no %s", s)
		}
	}

	// Kill the eventlog plugin: until its replacement runs, /readyz names it.
	run := l.waitLog(10*time.Second, "output plugin running", msgIs("output plugin running"))
	pid := int(run.num("pid"))
	if pid <= 0 {
		t.Fatalf("no pid in %v", run)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	metricsPoll(t, base+"/readyz", 10*time.Second, "503 naming the restarting output", func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && regexp.MustCompile(`(?m)^output 0 \(eventlog\): (restarting, attempt 2|starting)$`).MatchString(body)
	})
	metricsPoll(t, base+"/readyz", 20*time.Second, "200 once the output is back", func(code int, body string) bool {
		return code == http.StatusOK
	})
	_, body, err = metricsGet(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if got := metricsValue(t, body, `rgap_output_restarts_total{kind="eventlog",output="0"}`); got != 1 {
		t.Errorf("restarts after one kill = %v, want 1", got)
	}
	tot := totals(t, l)
	if tot.num("received") != 10 || tot.num("dropped_bad_mac") != 1 {
		t.Errorf("shutdown totals disagree with /metrics: %v", tot)
	}
}

// TestMetricsHTTPListenClash: http_listen on the TCP address of a dns
// output is refused by `rgap check` and at start-up (exit 2), naming
// http_listen; a malformed --http-listen is a usage error.
func TestMetricsHTTPListenClash(t *testing.T) {
	listen := freeUDPPort(t, "udp4", "127.0.0.1")
	dns := freeTCPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", dns)
	path := writeConfig(t, t.TempDir(), plugConfig(listen, "5s", fmt.Sprintf("http_listen: %s\n", addr), dnsOutput(addr, "app.test")))
	want := regexp.MustCompile(`http_listen and output 0 \(kind "dns"\) at \S+rgap\.yaml:\d+ both bind tcp ` + regexp.QuoteMeta(addr))
	for _, args := range [][]string{{"check", "-c", path}, {"listener", "-c", path}} {
		code, _, stderr := runRgap(t, nil, args...)
		if code != 2 || !want.MatchString(stderr) {
			t.Errorf("rgap %s: exit %d, stderr:\n%s\nwant exit 2 and %s", args[0], code, stderr, want)
		}
	}
	// The flag is checked as the key is.
	noKey := writeConfig(t, t.TempDir(), plugConfig(listen, "5s", "", dnsOutput(addr, "app.test")))
	for _, cmd := range []string{"check", "listener"} {
		code, _, stderr := runRgap(t, nil, cmd, "-c", noKey, "--http-listen", addr)
		if code != 2 || !want.MatchString(stderr) {
			t.Errorf("rgap %s --http-listen %s: exit %d, stderr:\n%s\nwant exit 2 and %s", cmd, addr, code, stderr, want)
		}
	}
	code, _, stderr := runRgap(t, nil, "listener", "-c", path, "--http-listen", "127.0.0.1")
	if code != 2 || !strings.Contains(stderr, `--http-listen "127.0.0.1": want host:port`) {
		t.Errorf("bad --http-listen: exit %d, stderr:\n%s", code, stderr)
	}
}
