package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var (
	addr1 = netip.MustParseAddr("10.0.0.1")
	addr2 = netip.MustParseAddr("10.0.0.2")
	addr3 = netip.MustParseAddr("2001:db8::3")
	soon  = time.Unix(1_900_000_000, 0)
)

// recorder is a test output that records what it sees.
type recorder struct {
	mu     sync.Mutex
	events []sdk.Event
	env    *sdk.Env
	envSet chan struct{}

	runErr      error         // returned by Run at once when set
	stopDelay   time.Duration // Run lingers this long after cancel
	stopped     atomic.Bool   // Run returned after cancel
	panicOnJoin bool
}

func (r *recorder) HandleEvent(e sdk.Event) {
	if r.panicOnJoin && e.Kind == sdk.EventJoin {
		panic("handler exploded")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) take() []sdk.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

func (r *recorder) Run(ctx context.Context, env *sdk.Env) error {
	r.env = env
	close(r.envSet)
	if r.runErr != nil {
		return r.runErr
	}
	<-ctx.Done()
	time.Sleep(r.stopDelay)
	r.stopped.Store(true)
	return ctx.Err()
}

type recorderSpec struct {
	Groups []uint64 `yaml:"groups"`
}

// recorderPlugin returns a plugin whose New yields rec; the spec may list
// groups to subscribe to.
func recorderPlugin(rec *recorder) sdk.Plugin {
	return sdk.Plugin{Name: "recorder", Version: "test", New: func(cfg *sdk.Config) (sdk.Output, error) {
		var s recorderSpec
		if err := cfg.Decode(&s); err != nil {
			return nil, err
		}
		if s.Groups != nil {
			cfg.Subscribe(s.Groups...)
		}
		return rec, nil
	}}
}

func newRecorder() *recorder { return &recorder{envSet: make(chan struct{})} }

func (r *recorder) waitEnv(t *testing.T) *sdk.Env {
	t.Helper()
	select {
	case <-r.envSet:
		return r.env
	case <-time.After(sdktest.Timeout):
		t.Fatal("Run was not started")
		return nil
	}
}

func TestStreamAppliesEventsBeforeAck(t *testing.T) {
	rec := newRecorder()
	h := sdktest.Start(t, recorderPlugin(rec), "", sdk.GroupInfo{ID: 1}, sdk.GroupInfo{ID: 2})
	env := rec.waitEnv(t)
	if got := rec.take(); !slices.Equal(got, []sdk.Event{{Kind: sdk.EventResync}}) {
		t.Fatalf("first snapshot delivered %v, want just a resync", got)
	}

	h.Join(1, addr2, soon)
	h.Join(1, addr1, soon)
	h.Join(2, addr3, soon)
	h.Ready(1)
	h.Heartbeat()
	h.Sync()

	want := []sdk.Event{
		{Kind: sdk.EventJoin, Group: 1, Member: sdk.Member{Addr: addr2, Expires: soon}},
		{Kind: sdk.EventJoin, Group: 1, Member: sdk.Member{Addr: addr1, Expires: soon}},
		{Kind: sdk.EventJoin, Group: 2, Member: sdk.Member{Addr: addr3, Expires: soon}},
		{Kind: sdk.EventReady, Group: 1},
	}
	if got := rec.take(); !eventsEqual(got, want) {
		t.Fatalf("events = %v\nwant %v", got, want)
	}
	if got := env.Groups.Members(1); len(got) != 2 || got[0].Addr != addr1 || got[1].Addr != addr2 {
		t.Fatalf("Members(1) = %v, want %v and %v sorted", got, addr1, addr2)
	}
	if !env.Groups.Ready(1) || env.Groups.Ready(2) {
		t.Fatalf("Ready(1), Ready(2) = %v, %v; want true, false", env.Groups.Ready(1), env.Groups.Ready(2))
	}

	h.Leave(1, addr2)
	h.Leave(1, addr2) // already gone: no event
	h.Sync()
	if got := rec.take(); !eventsEqual(got, []sdk.Event{{Kind: sdk.EventLeave, Group: 1, Member: sdk.Member{Addr: addr2, Expires: soon}}}) {
		t.Fatalf("events after leaves = %v, want one leave of %v", got, addr2)
	}
	if got := env.Groups.Members(1); len(got) != 1 || got[0].Addr != addr1 {
		t.Fatalf("Members(1) after leave = %v", got)
	}
}

func eventsEqual(a, b []sdk.Event) bool {
	return slices.EqualFunc(a, b, func(x, y sdk.Event) bool {
		return x.Kind == y.Kind && x.Group == y.Group && x.Member.Addr == y.Member.Addr && x.Member.Expires.Equal(y.Member.Expires)
	})
}

func TestExpiryUpdatesOnlyWithCapability(t *testing.T) {
	for _, capable := range []bool{false, true} {
		t.Run(fmt.Sprint("capable=", capable), func(t *testing.T) {
			rec := newRecorder()
			p := recorderPlugin(rec)
			p.ExpiryUpdates = capable
			h := sdktest.Start(t, p, "", sdk.GroupInfo{ID: 1})
			env := rec.waitEnv(t)
			h.Join(1, addr1, soon)
			later := soon.Add(time.Minute)
			h.Expiry(1, addr1, later)
			h.Expiry(1, addr2, later) // not a member: must not appear
			h.Sync()
			want := soon
			if capable {
				want = later
			}
			got := env.Groups.Members(1)
			if len(got) != 1 || !got[0].Expires.Equal(want) {
				t.Fatalf("Members(1) = %v, want %v expiring at %v", got, addr1, want)
			}
		})
	}
}

func TestResyncDeliversDifferences(t *testing.T) {
	rec := newRecorder()
	h := sdktest.Start(t, recorderPlugin(rec), "", sdk.GroupInfo{ID: 1}, sdk.GroupInfo{ID: 2}, sdk.GroupInfo{ID: 3})
	env := rec.waitEnv(t)
	changed := env.Groups.Changed(2)
	h.Join(1, addr1, soon)
	h.Join(1, addr2, soon)
	h.Join(3, addr1, soon)
	h.Sync()
	rec.take()
	select {
	case <-changed:
		t.Fatal("Changed(2) fired for changes of groups 1 and 3")
	default:
	}

	// The host skipped events and sends the new state instead: group 1
	// lost addr2 and gained addr3, group 2 became ready with addr1, group 3
	// is unchanged.
	h.Snapshot(
		sdktest.GroupState{ID: 1, Members: []sdk.Member{{Addr: addr1, Expires: soon}, {Addr: addr3, Expires: soon}}},
		sdktest.GroupState{ID: 2, Ready: true, Members: []sdk.Member{{Addr: addr1, Expires: soon}}},
		sdktest.GroupState{ID: 3, Members: []sdk.Member{{Addr: addr1, Expires: soon}}},
	)
	h.Sync()
	want := []sdk.Event{
		{Kind: sdk.EventLeave, Group: 1, Member: sdk.Member{Addr: addr2, Expires: soon}},
		{Kind: sdk.EventJoin, Group: 1, Member: sdk.Member{Addr: addr3, Expires: soon}},
		{Kind: sdk.EventJoin, Group: 2, Member: sdk.Member{Addr: addr1, Expires: soon}},
		{Kind: sdk.EventReady, Group: 2},
		{Kind: sdk.EventResync},
	}
	if got := rec.take(); !eventsEqual(got, want) {
		t.Fatalf("resync events = %v\nwant %v", got, want)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed(2) did not fire for the resync")
	}
	if got := env.Groups.Members(1); len(got) != 2 || got[0].Addr != addr1 || got[1].Addr != addr3 {
		t.Fatalf("Members(1) after resync = %v", got)
	}
}

func TestLargeSnapshotArrivesInChunks(t *testing.T) {
	rec := newRecorder()
	h := sdktest.Start(t, recorderPlugin(rec), "", sdk.GroupInfo{ID: 7})
	env := rec.waitEnv(t)
	rec.take()
	var members []sdk.Member
	for i := range 300 {
		members = append(members, sdk.Member{Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Expires: soon})
	}
	h.Snapshot(sdktest.GroupState{ID: 7, Ready: true, Members: members})
	h.Sync()
	got := env.Groups.Members(7)
	if len(got) != len(members) {
		t.Fatalf("mirror holds %d members after a chunked snapshot, want %d", len(got), len(members))
	}
	if !slices.IsSortedFunc(got, func(a, b sdk.Member) int { return a.Addr.Compare(b.Addr) }) {
		t.Fatal("Members is not sorted")
	}
	if n := len(rec.take()); n != len(members)+2 { // joins, ready, resync
		t.Fatalf("resync delivered %d events, want %d", n, len(members)+2)
	}
}

func TestSubscriptionFiltersGroups(t *testing.T) {
	rec := newRecorder()
	h := sdktest.Start(t, recorderPlugin(rec), "groups: [2]\n", sdk.GroupInfo{ID: 1}, sdk.GroupInfo{ID: 2})
	if all, groups := h.Subscription(); all || !slices.Equal(groups, []uint64{2}) {
		t.Fatalf("Subscription() = %v, %v; want only group 2", all, groups)
	}
	env := rec.waitEnv(t)
	h.Join(1, addr1, soon)
	h.Join(2, addr2, soon)
	h.Sync()
	if got := env.Groups.Members(1); got != nil {
		t.Fatalf("Members(1) = %v for an unsubscribed group", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := env.Groups.WaitReady(ctx, 1); !errors.Is(err, sdk.ErrUnknownGroup) {
		t.Fatalf("WaitReady(unsubscribed group) = %v, want ErrUnknownGroup", err)
	}
}

func TestWaitReady(t *testing.T) {
	rec := newRecorder()
	h := sdktest.Start(t, recorderPlugin(rec), "", sdk.GroupInfo{ID: 1}, sdk.GroupInfo{ID: 2})
	env := rec.waitEnv(t)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := env.Groups.WaitReady(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "[1 2]") {
		t.Fatalf("WaitReady before any ready = %v; want a deadline error naming groups [1 2]", err)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), sdktest.Timeout)
		defer cancel()
		done <- env.Groups.WaitReady(ctx)
	}()
	h.Ready(1)
	h.Sync()
	select {
	case err := <-done:
		t.Fatalf("WaitReady returned %v with group 2 not ready", err)
	default:
	}
	h.Ready(2)
	h.Sync()
	if err := <-done; err != nil {
		t.Fatalf("WaitReady = %v after both groups became ready", err)
	}
}

func TestOnEventAndCancel(t *testing.T) {
	rec := newRecorder()
	h := sdktest.Start(t, recorderPlugin(rec), "", sdk.GroupInfo{ID: 1})
	env := rec.waitEnv(t)
	var got []sdk.EventKind
	cancel := env.Groups.OnEvent(func(e sdk.Event) { got = append(got, e.Kind) })
	h.Join(1, addr1, soon)
	h.Sync()
	cancel()
	h.Leave(1, addr1)
	h.Sync()
	if !slices.Equal(got, []sdk.EventKind{sdk.EventJoin}) {
		t.Fatalf("OnEvent saw %v; want the join only (the leave came after cancel)", got)
	}
}

func TestRunErrorMakesPluginExit(t *testing.T) {
	rec := newRecorder()
	rec.runErr = errors.New("cannot bind :53")
	h := sdktest.Start(t, recorderPlugin(rec), "", sdk.GroupInfo{ID: 1})
	err := h.WaitExit()
	if err == nil || !strings.Contains(err.Error(), "cannot bind :53") || !strings.Contains(err.Error(), `"recorder"`) {
		t.Fatalf("exit reason = %v; want Run's error naming the output kind", err)
	}
	h.WaitLog(func(e sdktest.LogEntry) bool {
		return e.Message == "output failed" && strings.Contains(e.Arg("error"), "cannot bind :53")
	})
}

func TestRunPanicMakesPluginExit(t *testing.T) {
	p := sdk.Plugin{Name: "panicky", New: func(*sdk.Config) (sdk.Output, error) { return panicky{}, nil }}
	h := sdktest.Start(t, p, "")
	if err := h.WaitExit(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("exit reason = %v; want the panic", err)
	}
}

type panicky struct{}

func (panicky) Run(context.Context, *sdk.Env) error { panic("boom") }

func TestHandlerPanicMakesPluginExit(t *testing.T) {
	rec := newRecorder()
	rec.panicOnJoin = true
	h := sdktest.Start(t, recorderPlugin(rec), "", sdk.GroupInfo{ID: 1})
	h.Join(1, addr1, soon)
	if err := h.WaitExit(); err == nil || !strings.Contains(err.Error(), "handler exploded") {
		t.Fatalf("exit reason = %v; want the handler's panic", err)
	}
}

func TestStopWaitsForRun(t *testing.T) {
	rec := newRecorder()
	rec.stopDelay = 100 * time.Millisecond
	h := sdktest.Start(t, recorderPlugin(rec), "", sdk.GroupInfo{ID: 1})
	rec.waitEnv(t)
	h.Stop()
	if !rec.stopped.Load() {
		t.Fatal("Stop returned before Run did")
	}
}

func TestValidateDiagnostics(t *testing.T) {
	type mapping struct {
		Group    uint64        `yaml:"group"`
		Hostname string        `yaml:"hostname"`
		Every    time.Duration `yaml:"every"`
	}
	type spec struct {
		Mappings []mapping `yaml:"mappings"`
	}
	p := sdk.Plugin{Name: "strict", New: func(cfg *sdk.Config) (sdk.Output, error) {
		var s spec
		if err := cfg.Decode(&s); err != nil {
			return nil, err
		}
		var errs []error
		for i, m := range s.Mappings {
			if m.Hostname == "" {
				errs = append(errs, cfg.Errorf(fmt.Sprintf("mappings[%d].hostname", i), "required"))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		cfg.Subscribe(s.Mappings[0].Group)
		return panicky{}, nil
	}}
	tests := []struct {
		name string
		spec string
		want []sdktest.Diagnostic
	}{
		{
			name: "unknown key and wrong type",
			spec: "mappings:\n  - group: 1000\n    hostname: a\n  - grup: 1\n    every: 5\n",
			want: []sdktest.Diagnostic{
				{Key: "mappings[1].grup", Line: 4, Message: "unknown key (valid keys here: group, hostname, every)"},
				{Key: "mappings[1].every", Line: 5, Message: `want a duration like "5s" or "1m30s", got integer 5`},
			},
		},
		{
			name: "plugin's own check",
			spec: "mappings:\n  - group: 1000\n    hostname: a\n  - group: 1000\n",
			want: []sdktest.Diagnostic{{Key: "mappings[1].hostname", Line: 4, Message: "required"}},
		},
		{
			name: "unknown group",
			spec: "mappings:\n  - group: 77\n    hostname: a\n",
			want: []sdktest.Diagnostic{{Line: 1, Message: "group 77: group is not configured in the listener"}},
		},
		{
			name: "syntax error",
			// The line of the fault; yaml.v3 names line 2, where the broken
			// mapping starts.
			spec: "mappings:\n  - group: 1000\n hostname: [\n",
			want: []sdktest.Diagnostic{{Line: 3, Message: "invalid YAML: did not find expected key"}},
		},
		{
			name: "valid",
			spec: "mappings:\n  - group: 1000\n    hostname: a\n    every: 1m\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sdktest.Validate(t, p, tt.spec, sdk.GroupInfo{ID: 1000})
			if !slices.Equal(got, tt.want) {
				t.Fatalf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateSurvivesPanicInNew(t *testing.T) {
	p := sdk.Plugin{Name: "fragile", New: func(*sdk.Config) (sdk.Output, error) { panic("nil map") }}
	got := sdktest.Validate(t, p, "a: 1\n")
	if len(got) != 1 || !strings.Contains(got[0].Message, "nil map") || !strings.Contains(got[0].Message, "bug in the plugin") {
		t.Fatalf("diagnostics = %q; want one naming the plugin's panic", got)
	}
}

func TestWrappedDecodeErrorKeepsKeyAndLine(t *testing.T) {
	p := sdk.Plugin{Name: "wrapper", New: func(cfg *sdk.Config) (sdk.Output, error) {
		return nil, fmt.Errorf("checking the mapping: %w", cfg.Errorf("mappings[0].group", "must not be zero"))
	}}
	got := sdktest.Validate(t, p, "mappings:\n  - group: 0\n")
	want := []sdktest.Diagnostic{{Key: "mappings[0].group", Line: 2, Message: "checking the mapping: must not be zero"}}
	if !slices.Equal(got, want) {
		t.Fatalf("diagnostics = %q, want %q", got, want)
	}
}
