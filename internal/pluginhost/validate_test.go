package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/bindcheck"
	"github.com/rgap-project/rgap/internal/pluginhost/pluginfile"
)

// validateGuard bounds a ValidateAll call: a failure must be reported, never
// hang.
func validateGuard(t *testing.T, h *Host, outputs []Output) error {
	t.Helper()
	_, err := validateBinds(t, h, outputs)
	return err
}

// validateBinds is validateGuard that also returns the reported binds.
func validateBinds(t *testing.T, h *Host, outputs []Output) ([]bindcheck.Bind, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type result struct {
		binds []bindcheck.Bind
		err   error
	}
	done := make(chan result, 1)
	go func() {
		b, err := h.ValidateAll(ctx, outputs, testGroups)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.binds, r.err
	case <-time.After(90 * time.Second):
		t.Fatal("ValidateAll hung")
		return nil, nil
	}
}

// ValidateAll returns the addresses the plugins report they will bind, in
// output order, each naming its output; none when an output is invalid.
func TestValidateAllBinds(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	outputs := []Output{
		{Index: 0, Kind: "good", File: "rgap.yaml", Line: 10, Spec: []byte("bind: udp 127.0.0.1:53\nbind: tcp 127.0.0.1:53\n"), SpecLine: 11},
		{Index: 1, Kind: "good-b", File: "rgap.yaml", Line: 14},
		{Index: 2, Kind: "good-c", File: "rgap.yaml", Line: 16, Spec: []byte("bind: udp6 [::1]:0\n"), SpecLine: 17},
	}
	got, err := validateBinds(t, h, outputs)
	if err != nil {
		t.Fatal(err)
	}
	want := []bindcheck.Bind{
		{Owner: `output 0 (kind "good") at rgap.yaml:10`, Network: "udp", Address: "127.0.0.1:53"},
		{Owner: `output 0 (kind "good") at rgap.yaml:10`, Network: "tcp", Address: "127.0.0.1:53"},
		{Owner: `output 2 (kind "good-c") at rgap.yaml:16`, Network: "udp6", Address: "[::1]:0"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("binds = %+v\nwant %+v", got, want)
	}
	// An invalid output does not hide the binds of the valid ones: `rgap
	// check` reports their clashes alongside it.
	outputs[1].Spec = []byte("bad: 1\n")
	if got, err := validateBinds(t, h, outputs); err == nil || !slices.Equal(got, want) {
		t.Errorf("ValidateAll with an invalid output = %v, %v; want the valid outputs' binds and the error", got, err)
	}
}

// Plugins that fail the handshake give a clear error and never hang.
func TestHandshakeFailures(t *testing.T) {
	tests := []struct {
		kind    string
		wantErr error
		want    string
	}{
		{"badcookie", ErrStart, "This binary is a plugin"},
		{"badversion", ErrStart, "incompatible API version"},
		{"netrpc", ErrStart, "unsupported plugin protocol"},
		{"stdout", ErrStart, "hello from a plugin that prints before the handshake"},
		{"hangstart", ErrStart, "timeout while waiting for plugin to start"},
		{"crash", ErrStart, "boom: fake plugin crashed at start"},
		{"badproto", ErrProtocolVersion, "protocol versions [7]"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions(t, dir)
			opts.StartTimeout = 30 * time.Second // generous: the machine may be loaded
			if tt.kind == "hangstart" {
				opts.StartTimeout = time.Second
			}
			h := newHost(t, opts)
			err := validateGuard(t, h, []Output{{Index: 3, Kind: tt.kind, File: "rgap.yaml", Line: 40}})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ValidateAll = %v, want %v", err, tt.wantErr)
			}
			for _, want := range []string{tt.want, `output 3 (kind "` + tt.kind + `") at rgap.yaml:40`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			for _, pid := range readStarts(dir, tt.kind) {
				waitFor(t, 10*time.Second, "plugin process gone", func() bool { return !alive(pid) })
			}
		})
	}
}

// ValidateAll reports every bad output at once, each naming its index, kind,
// file and line and the plugin's diagnostics with their lines.
func TestValidateAll(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	outputs := []Output{
		{Index: 0, Kind: "good", File: "/etc/rgap/listener.yaml", Line: 20, Spec: []byte("fine: 1\n"), SpecLine: 21},
		{Index: 1, Kind: "good-b", File: "/etc/rgap/listener.yaml", Line: 24, Spec: []byte("ok: 1\nbad_key: 2\nbadder: 3\n"), SpecLine: 25},
		{Index: 2, Kind: "missing", File: "/etc/rgap/listener.yaml", Line: 30},
		{Index: 3, Kind: "good-c", File: "/etc/rgap/listener.yaml", Line: 33, SHA256: strings.Repeat("0", 64)},
		{Index: 4, Kind: "../evil", File: "/etc/rgap/listener.yaml", Line: 36},
	}
	err := validateGuard(t, h, outputs)
	if err == nil {
		t.Fatal("ValidateAll = nil, want errors")
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	if len(errs) != 4 {
		t.Fatalf("got %d errors, want 4: %v", len(errs), err)
	}
	wantIdx := []int{1, 2, 3, 4}
	wantIs := []error{ErrInvalidSpec, ErrNotFound, ErrPinBuiltin, pluginfile.ErrBadKind}
	for i, e := range errs {
		var oe *OutputError
		if !errors.As(e, &oe) || oe.Index != wantIdx[i] {
			t.Errorf("error %d = %v, want an *OutputError for output %d", i, e, wantIdx[i])
			continue
		}
		if !errors.Is(e, wantIs[i]) {
			t.Errorf("error for output %d = %v, want %v", oe.Index, e, wantIs[i])
		}
	}
	var oe *OutputError
	errors.As(errs[0], &oe)
	wantDiags := []Diagnostic{{Key: "bad_key", Line: 26, Message: "unknown key"}, {Key: "badder", Line: 27, Message: "unknown key"}}
	if len(oe.Diagnostics) != 2 || oe.Diagnostics[0] != wantDiags[0] || oe.Diagnostics[1] != wantDiags[1] {
		t.Errorf("diagnostics = %+v, want %+v", oe.Diagnostics, wantDiags)
	}
	for _, want := range []string{
		`output 1 (kind "good-b") at /etc/rgap/listener.yaml:24: invalid output spec`,
		"/etc/rgap/listener.yaml:26: bad_key: unknown key",
		"/etc/rgap/listener.yaml:27: badder: unknown key",
		`output 2 (kind "missing") at /etc/rgap/listener.yaml:30: plugin not found: ` + filepath.Join(dir, "plugins", "rgap-plugin-missing"),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error text lacks %q:\n%v", want, err)
		}
	}
	if err := validateGuard(t, h, outputs[:1]); err != nil {
		t.Errorf("ValidateAll(valid output) = %v", err)
	}
}

// A Configure that subscribes to a group the configuration does not define
// is an error naming the group; no stream starts.
func TestConfigureUnknownGroup(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := newFakeFeed(64)
	startRun(t, h, feed, []Output{{Index: 5, Kind: "unknowngroup"}}, testGroups)
	waitFor(t, 10*time.Second, "configure error", func() bool { return statsOf(h, 5).LastError != "" })
	s := statsOf(h, 5)
	if !strings.Contains(s.LastError, "group 999") || !strings.Contains(s.LastError, ErrUnknownGroup.Error()) {
		t.Errorf("last error %q does not name the unknown group 999", s.LastError)
	}
	if st, ok := readState(dir, "unknowngroup"); ok && st.Messages > 0 {
		t.Errorf("plugin got %d stream messages despite a bad subscription", st.Messages)
	}
}

// The plugin's environment is the allowlist plus go-plugin's handshake
// variables and the parent PID: no host secret leaks.
func TestPluginEnvironment(t *testing.T) {
	const secret = "5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99"
	t.Setenv("RGAP_PSK", secret)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("LC_ALL", "C.UTF-8")
	t.Setenv("TZ", "Europe/Prague")
	t.Setenv("RGAP_EXTRA", "passed")
	dir := t.TempDir()
	opts := testOptions(t, dir)
	opts.PassEnv = []string{"RGAP_EXTRA"}
	h := newHost(t, opts)
	if err := validateGuard(t, h, []Output{{Kind: "envdump"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "envdump.env"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Fatalf("plugin environment contains the secret:\n%s", b)
	}
	allowed := map[string]bool{
		"PATH": true, "HOME": true, "TMPDIR": true, "TZ": true, "LANG": true, "LANGUAGE": true, "RGAP_EXTRA": true,
		"RGAP_PLUGIN_PARENT_PID": true, "RGAP_PLUGIN_LOG_LEVEL": true, "GOMAXPROCS": true, "RGAP_PLUGIN_HOST_GOMAXPROCS": true, "RGAP_PLUGIN_COOKIE": true, "PLUGIN_MIN_PORT": true, "PLUGIN_MAX_PORT": true,
		"PLUGIN_PROTOCOL_VERSIONS": true, "PLUGIN_CLIENT_CERT": true, "PLUGIN_UNIX_SOCKET_DIR": true,
	}
	var environ []string
	if err := json.Unmarshal(b, &environ); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		got[name] = val
		if !allowed[name] && !strings.HasPrefix(name, "LC_") {
			t.Errorf("plugin environment has %s", name)
		}
	}
	want := map[string]string{"LC_ALL": "C.UTF-8", "TZ": "Europe/Prague", "RGAP_EXTRA": "passed", "RGAP_PLUGIN_PARENT_PID": itoaPid()}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("plugin environment %s = %q, want %q", k, got[k], v)
		}
	}
}

// An out-of-tree plugin whose sha256 pin does not match, or whose file is
// writable by others, is never executed, at validation or at run time.
func TestRefusedPluginNeverRuns(t *testing.T) {
	tests := []struct {
		name    string
		mode    os.FileMode
		pin     func(sum string) string
		wantErr error
	}{
		{"wrong pin", 0o755, func(sum string) string { return strings.Repeat("ab", 32) }, ErrPinMismatch},
		{"group-writable", 0o775, func(string) string { return "" }, ErrUnsafe},
		{"world-writable and pinned", 0o757, func(sum string) string { return sum }, ErrUnsafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions(t, dir)
			if err := os.Mkdir(opts.PluginsDir, 0o755); err != nil { //nolint:gosec // a plugins directory as installed for real
				t.Fatal(err)
			}
			marker := filepath.Join(dir, "marker")
			script := []byte("#!/bin/sh\ntouch " + marker + "\n")
			path := filepath.Join(opts.PluginsDir, "rgap-plugin-touch")
			if err := os.WriteFile(path, script, 0o700); err != nil { //nolint:gosec // an executable plugin; its mode is set just below
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(script)
			out := Output{Kind: "touch", SHA256: tt.pin(hex.EncodeToString(sum[:]))}
			h := newHost(t, opts)
			err := validateGuard(t, h, []Output{out})
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("ValidateAll = %v, want %v naming %s", err, tt.wantErr, path)
			}
			startRun(t, h, newFakeFeed(64), []Output{out}, testGroups)
			waitFor(t, 10*time.Second, "three refused attempts", func() bool { return statsOf(h, 0).Starts >= 3 })
			if !errors.Is(err, tt.wantErr) || !strings.Contains(statsOf(h, 0).LastError, tt.wantErr.Error()) {
				t.Errorf("last error %q, want %v", statsOf(h, 0).LastError, tt.wantErr)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("refused plugin was executed: marker file exists")
			}
		})
	}
}

// A correctly pinned out-of-tree plugin runs; replacing the file afterwards
// makes the next start (a restart) refuse it.
func TestPinCheckedBeforeEveryStart(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir)
	if err := os.Mkdir(opts.PluginsDir, 0o755); err != nil { //nolint:gosec // a plugins directory as installed for real
		t.Fatal(err)
	}
	path := filepath.Join(opts.PluginsDir, "rgap-plugin-ext")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := []byte("#!/bin/sh\nexec " + self + " fakeplugin good " + dir + "\n")
	if err := os.WriteFile(path, script, 0o755); err != nil { //nolint:gosec // a plugin executable as installed for real
		t.Fatal(err)
	}
	sum := sha256.Sum256(script)
	out := Output{Kind: "ext", SHA256: hex.EncodeToString(sum[:])}
	h := newHost(t, opts)
	if err := validateGuard(t, h, []Output{out}); err != nil {
		t.Fatalf("ValidateAll(correct pin) = %v", err)
	}
	feed := oneGroupFeed(64)
	startRun(t, h, feed, []Output{out}, testGroups)
	waitFor(t, 10*time.Second, "pinned plugin running", func() bool { return stateMatches(t, dir, "good", 1, []string{"192.0.2.1"}) })

	marker := filepath.Join(dir, "marker")
	if err := os.WriteFile(path, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil { //nolint:gosec // a plugin executable as installed for real
		t.Fatal(err)
	}
	starts := len(readStarts(dir, "good"))
	pids := readStarts(dir, "good")
	if err := syscallKill(pids[len(pids)-1]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "restart refused", func() bool {
		return strings.Contains(statsOf(h, 0).LastError, ErrPinMismatch.Error())
	})
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("replaced plugin was executed despite the pin")
	}
	if n := len(readStarts(dir, "good")); n != starts {
		t.Errorf("plugin started %d more times", n-starts)
	}
}
