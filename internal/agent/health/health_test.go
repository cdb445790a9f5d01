package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestStateRiseFall(t *testing.T) {
	for _, tc := range []struct {
		name       string
		start      bool
		rise, fall int
		rounds     string // p pass, f fail
		want       string // state after each round: H healthy, U unhealthy
	}{
		{"starts unhealthy, rises after 2", false, 2, 3, "ppp", "UHH"},
		{"a failure resets the rise streak", false, 2, 3, "pfppf", "UUUHH"},
		{"falls after 3", true, 2, 3, "fffp", "HHUU"},
		{"a pass resets the fall streak", true, 2, 3, "ffpfff", "HHHHHU"},
		{"rise 1 fall 1 follows every round", false, 1, 1, "pfpf", "HUHU"},
		{"init healthy stays healthy on passes", true, 2, 3, "pppp", "HHHH"},
		{"flapping never changes state", true, 2, 3, "fpfpfp", "HHHHHH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState(tc.start, tc.rise, tc.fall)
			var got strings.Builder
			for _, r := range tc.rounds {
				before := s.Healthy
				changed := s.Observe(r == 'p')
				if changed != (before != s.Healthy) {
					t.Fatalf("Observe reported changed=%v, state went %v -> %v", changed, before, s.Healthy)
				}
				if s.Healthy {
					got.WriteByte('H')
				} else {
					got.WriteByte('U')
				}
			}
			if got.String() != tc.want {
				t.Errorf("rounds %s: states %s, want %s", tc.rounds, got.String(), tc.want)
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if code == 302 {
			w.Header().Set("Location", "/500")
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	for _, tc := range []struct {
		path    string
		status  int
		base    string
		wantErr string
	}{
		{path: "/200"},
		{path: "/204"},
		{path: "/302"}, // not followed: the redirect itself is healthy
		{path: "/404", wantErr: "status 404, want 2xx or 3xx"},
		{path: "/500", wantErr: "status 500, want 2xx or 3xx"},
		{path: "/204", status: 204},
		{path: "/200", status: 204, wantErr: "status 200, want 204"},
		{path: "/200", base: closedURL, wantErr: "connection refused"},
	} {
		base := srv.URL
		if tc.base != "" {
			base = tc.base
		}
		t.Run(fmt.Sprintf("%s%s=%d", base, tc.path, tc.status), func(t *testing.T) {
			h, err := NewHTTP(base+tc.path, tc.status)
			runCheck(t, h, err, tc.wantErr)
		})
	}
}

func TestHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	h, err := NewHTTP(srv.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	checkErr(t, h.Run(ctx), "deadline exceeded")
}

func TestNewCheckErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		wantErr string
	}{
		{"http no scheme", second(NewHTTP("localhost:80/", 0)), `http check "localhost:80/"`},
		{"http ftp", second(NewHTTP("ftp://host/", 0)), "want an http:// or https:// URL"},
		{"http status", second(NewHTTP("http://host/", 99)), "status 99: want 100 to 599"},
		{"tcp no port", second(NewTCP("host")), `tcp check "host": want HOST:PORT`},
		{"exec empty", second(NewExec("  ")), "exec check: empty command"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkErr(t, tc.err, tc.wantErr) })
	}
}

func second[T any](_ T, err error) error { return err }

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := gone.Addr().String()
	_ = gone.Close()
	defer func() { _ = ln.Close() }()
	for _, tc := range []struct{ addr, wantErr string }{
		{open, ""},
		{closed, "connection refused"},
	} {
		c, err := NewTCP(tc.addr)
		runCheck(t, c, err, tc.wantErr)
	}
}

func TestExec(t *testing.T) {
	for _, tc := range []struct{ cmdline, wantErr string }{
		{"/bin/true", ""},
		{"/bin/false", "exited: exit status 1"},
		{"/bin/sh -c exit", ""},
		{"/nonexistent/check", "no such file"},
	} {
		t.Run(tc.cmdline, func(t *testing.T) {
			e, err := NewExec(tc.cmdline)
			runCheck(t, e, err, tc.wantErr)
		})
	}
}

// TestExecTimeoutKillsGroup runs a check whose shell starts a child that
// would outlive it, and asserts that the timeout kills both.
func TestExecTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	e := &Exec{Argv: []string{"/bin/sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	checkErr(t, e.Run(ctx), "killed at the timeout")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run returned after %s, long after the timeout", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	// The orphaned sleep is gone or, where nothing reaps orphans, a zombie.
	for i := 0; ; i++ {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err == nil {
			fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			if len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X") {
				return
			}
		}
		if i == 50 {
			t.Fatalf("child %s of the timed-out check still runs: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// flag is a Check whose result the test sets.
type flag struct{ ok atomic.Bool }

func (f *flag) String() string { return "flag" }
func (f *flag) Run(context.Context) error {
	if f.ok.Load() {
		return nil
	}
	return errors.New("flag down")
}

func TestMonitor(t *testing.T) {
	f, up := &flag{}, &flag{}
	up.ok.Store(true)
	m, err := New(Config{Checks: []Check{up, f}, Interval: 10 * time.Millisecond, Timeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	healthy, reason, changed := m.Status()
	if healthy || !strings.Contains(reason, "starting") {
		t.Fatalf("start state: healthy=%v reason %q, want unhealthy, starting", healthy, reason)
	}
	go m.Run(ctx)
	f.ok.Store(true)
	healthy, _, changed = waitChange(t, m, changed)
	if !healthy {
		t.Fatal("not healthy after the checks passed")
	}
	f.ok.Store(false)
	healthy, reason, _ = waitChange(t, m, changed)
	if healthy || reason != "check flag: flag down" {
		t.Fatalf("after the check failed: healthy=%v reason %q, want the failing check named", healthy, reason)
	}
}

func waitChange(t *testing.T, m *Monitor, changed <-chan struct{}) (bool, string, <-chan struct{}) {
	t.Helper()
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no transition within 5s")
	}
	return m.Status()
}

func TestConfigErrors(t *testing.T) {
	c := []Check{&flag{}}
	for _, tc := range []struct {
		cfg     Config
		wantErr string
	}{
		{Config{}, "no health checks"},
		{Config{Checks: c, Interval: time.Second, Timeout: 2 * time.Second}, "longer than the check interval"},
		{Config{Checks: c, Rise: -1}, "rise -1"},
		{Config{Checks: c, Fall: -1}, "fall -1"},
	} {
		_, err := New(tc.cfg)
		checkErr(t, err, tc.wantErr)
	}
}

// runCheck fails t if err, a constructor's error, is not nil; else it runs
// c with a 5s timeout and checks its error with checkErr.
func runCheck(t *testing.T, c Check, err error, want string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	checkErr(t, c.Run(ctx), want)
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("error %v, want one containing %q", err, want)
	}
}
