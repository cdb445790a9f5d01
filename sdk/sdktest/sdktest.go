// Package sdktest runs an output plugin inside a Go test, against a fake
// rgap core, so that a plugin author can check what an operator would see
// (log lines, files, DNS answers) without building binaries or starting a
// listener.
//
// The plugin is driven through the same gRPC service code a real plugin
// process serves, over an in-memory connection (bufconn): configuration goes
// through ValidateConfig and Configure, and group state through the stream
// of snapshots and events with acknowledgements. Only the process around it
// (go-plugin's handshake, stdio) is left out. A test therefore exercises the
// plugin's real config decoding, subscription and mirror:
//
//	h := sdktest.Start(t, myplugin.Plugin, "interval: 5s\n", sdk.GroupInfo{ID: 1000})
//	h.Join(1000, netip.MustParseAddr("10.0.0.1"), time.Now().Add(time.Minute))
//	h.Ready(1000)
//	h.Sync() // the plugin applied both and ran its handlers
//	h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "..." })
//
// Every wait is bounded (Timeout) and fails the test instead of hanging it.
//
// # Unit tests of a plugin's parts
//
// The harness tests a plugin whole. Its parts are best tested alone, and
// the pieces for that are here too, so that every plugin does not write its
// own fakes:
//
//   - FakeGroups stands in for the read side of the group mirror (Members,
//     Ready, Changed) behind an interface the plugin declares, and is
//     changed by hand (Set, SetAddrs, SetReady).
//   - LogSink hands out a logger and captures its lines as LogEntry values,
//     to assert on what an operator would read.
//   - DecodeSpec decodes a spec with the SDK's own decoder, and Errorf
//     builds "key: problem" errors, for validation code that takes its
//     error builder as a parameter instead of an sdk.Config.
//   - Eventually waits, bounded by Timeout, for what the code under test
//     does from its own goroutine.
package sdktest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/rgap-project/rgap/internal/handshake"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/internal/inprocess"
)

// hooks are the SDK's service and decoder (see package inprocess).
var hooks = inprocess.Lookup[sdk.Plugin]()

// File is the configuration file name the harness reports specs in, so
// diagnostics read "rgap.yaml:3: ...". Line 1 of the spec text is line 1 of
// this file.
const File = "rgap.yaml"

// Timeout bounds every wait of the harness.
const Timeout = 5 * time.Second

// chunkMembers is the most members the harness puts in one snapshot chunk,
// so that tests with larger groups exercise chunking.
const chunkMembers = 64

// Diagnostic is one problem the plugin found in a spec.
type Diagnostic struct {
	Key     string // key path inside the spec, e.g. "mappings[0].group"
	Line    int    // line in the spec text (1-based; 0 if unknown)
	Message string
}

// String formats the diagnostic like the listener does.
func (d Diagnostic) String() string {
	s := fmt.Sprintf("%s:%d: ", File, d.Line)
	if d.Key != "" {
		s += d.Key + ": "
	}
	return s + d.Message
}

// GroupState is one group of a snapshot sent with Harness.Snapshot.
type GroupState struct {
	ID      uint64
	Ready   bool
	Members []sdk.Member
}

// Harness is a running plugin and the fake core feeding it. Its methods
// must be called from the test's goroutine.
type Harness struct {
	t      testing.TB
	plugin sdk.Plugin
	logs   *LogSink
	srv    *grpc.Server
	conn   *grpc.ClientConn
	client outputv1.OutputServiceClient
	stream outputv1.OutputService_StreamClient
	cancel context.CancelFunc
	recvWG sync.WaitGroup

	groups []sdk.GroupInfo
	subAll bool
	subs   []uint64
	state  map[uint64]*GroupState
	seq    uint64

	mu      sync.Mutex
	acked   uint64
	ackCh   chan struct{} // closed and replaced on every ack or stream end
	recvErr error         // the stream ended (nil until then)

	exitOnce sync.Once
	exitCh   chan struct{}
	exitErr  error
	exitSeen bool

	stopOnce sync.Once
	started  bool // Start got as far as opening the stream
}

// dial serves p over an in-memory connection.
func dial(t testing.TB, p sdk.Plugin) *Harness {
	t.Helper()
	h := &Harness{t: t, plugin: p, exitCh: make(chan struct{}), ackCh: make(chan struct{})}
	h.logs = NewLogSink(t, hclog.Debug)
	h.logs.echo = "plugin"
	svc := hooks.NewServer(p, inprocess.Options{Log: h.logs.Logger(), Exit: h.onExit})
	lis := bufconn.Listen(1 << 20)
	h.srv = grpc.NewServer()
	outputv1.RegisterOutputServiceServer(h.srv, svc)
	go func() { _ = h.srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///sdktest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		h.srv.Stop()
		t.Fatalf("sdktest: connecting to the plugin: %v", err)
	}
	h.conn = conn
	h.client = outputv1.NewOutputServiceClient(conn)
	return h
}

func specOf(spec string) *outputv1.OutputSpec {
	return &outputv1.OutputSpec{Yaml: []byte(spec), File: File, Line: 1}
}

func groupsToWire(groups []sdk.GroupInfo) []*outputv1.GroupInfo {
	out := make([]*outputv1.GroupInfo, 0, len(groups))
	for _, g := range groups {
		out = append(out, &outputv1.GroupInfo{
			Id:                   g.ID,
			ExpireMicros:         g.Expire.Microseconds(),
			ReadinessDelayMicros: g.ReadinessDelay.Microseconds(),
		})
	}
	return out
}

func diagsFromWire(in []*outputv1.Diagnostic) []Diagnostic {
	var out []Diagnostic
	for _, d := range in {
		out = append(out, Diagnostic{Key: d.GetKey(), Line: int(d.GetLine()), Message: d.GetMessage()})
	}
	return out
}

// Validate asks the plugin to check spec against the given listener groups
// and returns its diagnostics (none when the spec is valid).
func Validate(t testing.TB, p sdk.Plugin, spec string, groups ...sdk.GroupInfo) []Diagnostic {
	t.Helper()
	return diagsFromWire(validate(t, p, spec, groups).GetDiagnostics())
}

// Binds asks the plugin to check spec, as Validate does, and returns the
// addresses it reports it will bind (see sdk.Binder); the test fails on any
// diagnostic.
func Binds(t testing.TB, p sdk.Plugin, spec string, groups ...sdk.GroupInfo) []sdk.Bind {
	t.Helper()
	resp := validate(t, p, spec, groups)
	if d := diagsFromWire(resp.GetDiagnostics()); len(d) > 0 {
		t.Fatalf("sdktest: the spec is invalid:\n%s", joinDiags(d))
	}
	var out []sdk.Bind
	for _, b := range resp.GetBinds() {
		out = append(out, sdk.Bind{Network: b.GetNetwork(), Address: b.GetAddress()})
	}
	return out
}

func validate(t testing.TB, p sdk.Plugin, spec string, groups []sdk.GroupInfo) *outputv1.ValidateConfigResponse {
	t.Helper()
	h := dial(t, p)
	defer func() {
		_ = h.conn.Close()
		h.srv.Stop()
		h.logs.close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	resp, err := h.client.ValidateConfig(ctx,
		&outputv1.ValidateConfigRequest{Spec: specOf(spec), Groups: groupsToWire(groups)})
	if err != nil {
		t.Fatalf("sdktest: ValidateConfig: %v", err)
	}
	return resp
}

// Start configures the plugin with spec and the given listener groups (the
// test fails on any diagnostic), opens the stream and sends the first
// snapshot: every subscribed group, not ready and empty. When Start returns
// the plugin acknowledged it, so Output.Run has been started. Stop is
// registered with t.Cleanup.
func Start(t testing.TB, p sdk.Plugin, spec string, groups ...sdk.GroupInfo) *Harness {
	t.Helper()
	h := dial(t, p)
	h.groups = slices.Clone(groups)
	t.Cleanup(h.Stop)

	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	info, err := h.client.GetInfo(ctx, &outputv1.GetInfoRequest{})
	if err != nil {
		t.Fatalf("sdktest: GetInfo: %v", err)
	}
	if info.GetName() != p.Name || !slices.Contains(info.GetProtocolVersions(), handshake.ProtocolV2) {
		t.Fatalf("sdktest: GetInfo = %v; want name %q speaking protocol %d", info, p.Name, handshake.ProtocolV2)
	}
	wireGroups := groupsToWire(groups)
	vr, err := h.client.ValidateConfig(ctx, &outputv1.ValidateConfigRequest{Spec: specOf(spec), Groups: wireGroups})
	if err != nil {
		t.Fatalf("sdktest: ValidateConfig: %v", err)
	}
	if d := diagsFromWire(vr.GetDiagnostics()); len(d) > 0 {
		t.Fatalf("sdktest: the spec is invalid:\n%s", joinDiags(d))
	}
	cr, err := h.client.Configure(ctx, &outputv1.ConfigureRequest{Spec: specOf(spec), Groups: wireGroups})
	if err != nil {
		t.Fatalf("sdktest: Configure: %v", err)
	}
	if d := diagsFromWire(cr.GetDiagnostics()); len(d) > 0 {
		t.Fatalf("sdktest: Configure rejected the spec:\n%s", joinDiags(d))
	}
	h.subAll = cr.GetAllGroups()
	h.subs = slices.Sorted(slices.Values(cr.GetGroups()))

	sctx, scancel := context.WithCancel(context.Background())
	h.cancel = scancel
	h.stream, err = h.client.Stream(sctx)
	if err != nil {
		t.Fatalf("sdktest: Stream: %v", err)
	}
	h.started = true
	h.recvWG.Add(1)
	go h.receive()

	h.state = map[uint64]*GroupState{}
	for _, g := range groups {
		if h.subscribed(g.ID) {
			h.state[g.ID] = &GroupState{ID: g.ID}
		}
	}
	h.sendSnapshot(nil)
	h.Sync()
	return h
}

func joinDiags(ds []Diagnostic) string {
	s := ""
	for _, d := range ds {
		s += "\t" + d.String() + "\n"
	}
	return s
}

// Subscription reports the groups the plugin asked for in Configure.
func (h *Harness) Subscription() (all bool, groups []uint64) {
	return h.subAll, slices.Clone(h.subs)
}

func (h *Harness) subscribed(id uint64) bool {
	if h.subAll {
		return true
	}
	_, ok := slices.BinarySearch(h.subs, id)
	return ok
}

// receive collects acknowledgements until the stream ends.
func (h *Harness) receive() {
	defer h.recvWG.Done()
	for {
		resp, err := h.stream.Recv()
		h.mu.Lock()
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("the plugin closed the stream")
			}
			h.recvErr = err
		} else if resp.GetAckSeq() > h.acked {
			h.acked = resp.GetAckSeq()
		}
		close(h.ackCh)
		h.ackCh = make(chan struct{})
		h.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (h *Harness) send(req *outputv1.StreamRequest) {
	h.t.Helper()
	h.seq++
	req.Seq = h.seq
	if err := h.stream.Send(req); err != nil {
		h.t.Fatalf("sdktest: sending seq %d: %v (stream: %v)", h.seq, err, h.streamErr())
	}
}

func (h *Harness) streamErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.recvErr
}

func (h *Harness) sendEvents(evs ...*outputv1.Event) {
	h.t.Helper()
	h.send(&outputv1.StreamRequest{Payload: &outputv1.StreamRequest_Events{Events: &outputv1.Events{Events: evs}}})
}

func memberToWire(m sdk.Member) *outputv1.Member {
	return &outputv1.Member{Address: m.Addr.Unmap().AsSlice(), ExpiresUnixMicros: m.Expires.UnixMicro(),
		Port: uint32(m.Port), Weight: uint32(m.Weight)}
}

// appendColumns appends members to a snapshot chunk by column, as a host
// speaking protocol 2 sends them.
func appendColumns(gs *outputv1.GroupState, ms []sdk.Member) {
	for _, m := range ms {
		a := m.Addr.As16()
		gs.Addresses = append(gs.Addresses, a[:]...)
		gs.Ports = append(gs.Ports, uint32(m.Port))
		gs.Weights = append(gs.Weights, uint32(m.Weight))
		gs.ExpiresUnixMicros = append(gs.ExpiresUnixMicros, m.Expires.UnixMicro())
	}
}

// groupState returns the fake core's state of a group, creating it.
func (h *Harness) groupState(id uint64) *GroupState {
	g := h.state[id]
	if g == nil {
		g = &GroupState{ID: id}
		h.state[id] = g
	}
	return g
}

// find returns the index of the member of g with addr and port, or -1.
func (g *GroupState) find(addr netip.Addr, port uint16) int {
	return slices.IndexFunc(g.Members, func(x sdk.Member) bool { return x.Addr == addr && x.Port == port })
}

// Join adds addr (without a port or weight, as a protocol-1 agent
// announces it) to group and sends the join, as the core does when an
// address is first announced. Like the core, it sends nothing for a group
// the plugin did not subscribe to.
func (h *Harness) Join(group uint64, addr netip.Addr, expires time.Time) {
	h.t.Helper()
	h.JoinMember(group, sdk.Member{Addr: addr, Expires: expires})
}

// JoinMember adds m (an address and port, with its weight) to group and
// sends the join, as the core does when a member is first announced. Like
// the core, it sends nothing for a group the plugin did not subscribe to.
func (h *Harness) JoinMember(group uint64, m sdk.Member) {
	h.t.Helper()
	m.Addr = m.Addr.Unmap()
	g := h.groupState(group)
	if i := g.find(m.Addr, m.Port); i >= 0 {
		g.Members[i] = m
	} else {
		g.Members = append(g.Members, m)
	}
	if h.subscribed(group) {
		h.sendEvents(&outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_JOIN, Group: group, Member: memberToWire(m)})
	}
}

// Leave removes addr (the member without a port) from group and sends the
// leave, as the core does when an address expires.
func (h *Harness) Leave(group uint64, addr netip.Addr) {
	h.t.Helper()
	h.LeaveMember(group, addr, 0)
}

// LeaveMember removes the member addr:port from group and sends the leave,
// as the core does when a member expires or leaves.
func (h *Harness) LeaveMember(group uint64, addr netip.Addr, port uint16) {
	h.t.Helper()
	addr = addr.Unmap()
	g := h.groupState(group)
	m := sdk.Member{Addr: addr, Port: port}
	if i := g.find(addr, port); i >= 0 {
		m = g.Members[i]
		g.Members = slices.Delete(g.Members, i, i+1)
	}
	if h.subscribed(group) {
		h.sendEvents(&outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_LEAVE, Group: group, Member: memberToWire(m)})
	}
}

// Expiry moves the expiry of addr (the member without a port) in group.
// Like the core, it sends the update only to plugins that asked for expiry
// updates (sdk.Plugin.ExpiryUpdates).
func (h *Harness) Expiry(group uint64, addr netip.Addr, expires time.Time) {
	h.t.Helper()
	addr = addr.Unmap()
	m := sdk.Member{Addr: addr, Expires: expires}
	if i := h.groupState(group).find(addr, 0); i >= 0 {
		m.Weight = h.state[group].Members[i].Weight
	}
	h.UpdateMember(group, m)
}

// UpdateMember sets the expiry and weight of the member m.Addr:m.Port in
// group and sends them as an expiry update, as the core does when a member
// is announced again or changes its weight. Like the core, it sends the
// update only to plugins that asked for expiry updates
// (sdk.Plugin.ExpiryUpdates).
func (h *Harness) UpdateMember(group uint64, m sdk.Member) {
	h.t.Helper()
	m.Addr = m.Addr.Unmap()
	g := h.groupState(group)
	i := g.find(m.Addr, m.Port)
	if i >= 0 {
		g.Members[i].Expires, g.Members[i].Weight = m.Expires, m.Weight
	}
	if h.subscribed(group) && h.plugin.ExpiryUpdates {
		h.sendEvents(&outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_EXPIRY, Group: group, Member: memberToWire(m)})
	}
}

// Ready marks group ready and sends the ready event, as the core does when
// the group's readiness delay has passed.
func (h *Harness) Ready(group uint64) {
	h.t.Helper()
	h.groupState(group).Ready = true
	if h.subscribed(group) {
		h.sendEvents(&outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_READY, Group: group})
	}
}

// Heartbeat sends an empty events message, which the plugin must
// acknowledge like any other.
func (h *Harness) Heartbeat() {
	h.t.Helper()
	h.sendEvents()
}

// Snapshot replaces the fake core's whole state with groups and sends it as
// a full snapshot (in chunks), as the core does for a plugin that fell
// behind. Groups the plugin did not subscribe to are kept but not sent.
func (h *Harness) Snapshot(groups ...GroupState) {
	h.t.Helper()
	h.state = map[uint64]*GroupState{}
	for _, g := range groups {
		g.Members = slices.Clone(g.Members)
		h.state[g.ID] = &g
	}
	h.sendSnapshot(nil)
}

// UpdateGroups tells the plugin that the listener's groups are now groups,
// as the core does on a reload for a plugin that declares it takes a new
// group list while running: the list rides on the first chunk of a full
// snapshot of state (which replaces the fake core's state as in Snapshot).
func (h *Harness) UpdateGroups(groups []sdk.GroupInfo, state ...GroupState) {
	h.t.Helper()
	h.groups = slices.Clone(groups)
	h.state = map[uint64]*GroupState{}
	for _, g := range state {
		g.Members = slices.Clone(g.Members)
		h.state[g.ID] = &g
	}
	h.sendSnapshot(&outputv1.GroupList{Groups: groupsToWire(groups)})
}

// sendSnapshot sends the subscribed part of the state as one snapshot,
// split into chunks of at most chunkMembers members; list, if not nil,
// rides on the first chunk.
func (h *Harness) sendSnapshot(list *outputv1.GroupList) {
	h.t.Helper()
	var chunks [][]*outputv1.GroupState
	var cur []*outputv1.GroupState
	n := 0
	for _, id := range slices.Sorted(maps.Keys(h.state)) {
		if !h.subscribed(id) {
			continue
		}
		g := h.state[id]
		members := g.Members
		for {
			take := min(len(members), chunkMembers-n)
			gs := &outputv1.GroupState{Id: id, Ready: g.Ready}
			appendColumns(gs, members[:take])
			cur = append(cur, gs)
			n += take
			members = members[take:]
			if n == chunkMembers {
				chunks = append(chunks, cur)
				cur, n = nil, 0
			}
			if len(members) == 0 {
				break
			}
		}
	}
	if len(cur) > 0 || len(chunks) == 0 {
		chunks = append(chunks, cur)
	}
	for i, c := range chunks {
		snap := &outputv1.Snapshot{First: i == 0, Last: i == len(chunks)-1, Groups: c}
		if i == 0 {
			snap.GroupList = list
		}
		h.send(&outputv1.StreamRequest{Payload: &outputv1.StreamRequest_Snapshot{Snapshot: snap}})
	}
}

// Sync waits until the plugin acknowledged everything sent so far, that is,
// applied it to its mirror and ran its event handlers. It fails the test
// if the stream broke or Timeout passed.
func (h *Harness) Sync() {
	h.t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		acked, err, ch := h.acked, h.recvErr, h.ackCh
		h.mu.Unlock()
		if acked >= h.seq {
			return
		}
		if err != nil {
			h.t.Fatalf("sdktest: the stream ended with seq %d of %d acknowledged: %v", acked, h.seq, err)
		}
		select {
		case <-ch:
		case <-deadline.C:
			h.t.Fatalf("sdktest: the plugin acknowledged seq %d of %d within %v", acked, h.seq, Timeout)
		}
	}
}

func (h *Harness) onExit(err error) {
	h.exitOnce.Do(func() {
		h.exitErr = err
		close(h.exitCh)
	})
}

// WaitExit waits for the plugin to fail the way that makes a real plugin
// process exit non-zero (Output.Run returned an error on its own, or
// panicked, or a handler panicked), and returns the reason. It fails the
// test if that does not happen within Timeout. A plugin that fails without
// a test calling WaitExit fails the test.
func (h *Harness) WaitExit() error {
	h.t.Helper()
	select {
	case <-h.exitCh:
		h.mu.Lock()
		h.exitSeen = true
		h.mu.Unlock()
		return h.exitErr
	case <-time.After(Timeout):
		h.t.Fatalf("sdktest: the plugin did not exit within %v", Timeout)
		return nil
	}
}

// Stop asks the plugin to stop (the Stop RPC: Run's context is cancelled
// and Stop returns once Run did) and closes the connection. It is called
// by t.Cleanup; calling it earlier lets a test check what the plugin left
// behind. It fails the test if Stop fails or the plugin failed unnoticed.
func (h *Harness) Stop() {
	h.stopOnce.Do(func() {
		h.t.Helper()
		exited := false
		select {
		case <-h.exitCh:
			exited = true
		default:
		}
		if h.started {
			ctx, cancel := context.WithTimeout(context.Background(), Timeout)
			_, err := h.client.Stop(ctx, &outputv1.StopRequest{})
			cancel()
			if err != nil && !exited {
				h.t.Errorf("sdktest: Stop: %v", err)
			}
		}
		if h.stream != nil {
			_ = h.stream.CloseSend()
			done := make(chan struct{})
			go func() { h.recvWG.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(Timeout):
				h.t.Errorf("sdktest: the plugin did not end the stream within %v", Timeout)
			}
			h.cancel()
		}
		_ = h.conn.Close()
		h.srv.Stop()
		h.mu.Lock()
		seen := h.exitSeen
		h.mu.Unlock()
		if exited && !seen {
			h.t.Errorf("sdktest: the plugin failed (a real plugin process would exit): %v", h.exitErr)
		}
		h.logs.close()
	})
}

// Logs returns every line logged so far.
func (h *Harness) Logs() []LogEntry { return h.logs.Entries() }

// WaitLog waits until a logged line (already logged or logged later)
// satisfies match and returns it; it fails the test after Timeout.
func (h *Harness) WaitLog(match func(LogEntry) bool) LogEntry {
	h.t.Helper()
	return h.logs.Wait(match)
}
