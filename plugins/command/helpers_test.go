package command

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk"
	"gopkg.in/yaml.v3"
)

// fakeGroups stands in for *sdk.Mirror.
type fakeGroups struct {
	mu      sync.Mutex
	members map[uint64][]sdk.Member
	ready   map[uint64]bool
	changed chan struct{}
}

func newFakeGroups() *fakeGroups {
	return &fakeGroups{
		members: map[uint64][]sdk.Member{},
		ready:   map[uint64]bool{},
		changed: make(chan struct{}, 1),
	}
}

// set replaces a group's state and signals a change.
func (f *fakeGroups) set(group uint64, ready bool, addrs ...string) {
	f.mu.Lock()
	var ms []sdk.Member
	for _, a := range addrs {
		ms = append(ms, sdk.Member{Addr: netip.MustParseAddr(a)})
	}
	f.members[group] = ms
	f.ready[group] = ready
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fakeGroups) Members(group uint64) []sdk.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.members[group]
}

func (f *fakeGroups) Ready(group uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready[group]
}

func (f *fakeGroups) Changed(...uint64) <-chan struct{} { return f.changed }

// logSink collects JSON log lines from an hclog.Logger.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func newLogger() (hclog.Logger, *logSink) {
	s := &logSink{}
	return hclog.New(&hclog.LoggerOptions{Output: s, JSONFormat: true, Level: hclog.Trace}), s
}

// entries returns the log lines with the given level and message.
func (s *logSink) entries(level, msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(s.buf.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			continue
		}
		if m["@level"] == level && m["@message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// eventually polls cond until it holds, failing the test after 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// parseSpec decodes YAML strictly the way the SDK does, then validates.
func parseSpec(t *testing.T, text string) (*settings, error) {
	t.Helper()
	var sp spec
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&sp); err != nil {
		t.Fatalf("decode spec: %v", err)
	}
	return sp.validate(plainErrorf)
}

// plainErrorf formats validation errors as "key: problem", without lines.
func plainErrorf(key, format string, args ...any) error {
	return fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...))
}
