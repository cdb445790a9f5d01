package pluginhost

// A fake plugin, run by re-executing the test binary: TestMain sees
// "fakeplugin <kind> <report dir>" and serves OutputService with the
// generated server code and go-plugin directly (not the SDK, which is
// written separately). The part of the kind before '-' selects a behaviour,
// so "good" and "good-b" behave alike but report separately. The plugin
// writes what it observed to <dir>/<kind>.state.json (atomically replaced)
// and appends its PID to <dir>/<kind>.starts.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/rpc"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/rgap-project/rgap/internal/handshake"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// fakeKinds are the built-in kinds tests may use.
var fakeKinds = []string{
	"good", "good-b", "good-c", "expiry", "crash", "noack", "slow", "garbage", "envdump",
	"badcookie", "badversion", "badproto", "netrpc", "stdout", "hangstart",
	"ignorestop", "unknowngroup", "bench", "overack", "metrics", "metricshang",
	"regroup", "regroup-b", "v2",
}

type fakeGroupState struct {
	Ready   bool
	N       int
	Members []string `json:",omitempty"` // only for small groups
}

type fakeState struct {
	PID        int
	Snapshots  int
	Messages   int
	Heartbeats int
	Events     map[string]int
	Violations []string
	Groups     map[uint64]*fakeGroupState
	Specs      []string // "file:line:index" of every spec received
	// Configured is the group list of the latest Configure, or of the
	// latest snapshot that carried one, one "id/expire/readiness delay"
	// per group.
	Configured []string
	// GroupLists counts snapshots that carried a group list.
	GroupLists int
}

// mirrorGroup is one group of the fake plugin's mirror. A protocol-1
// plugin keys members by address (port 0); "v2" by address and port.
type mirrorGroup struct {
	ready   bool
	members map[netip.AddrPort]fakeMember
}

type fakeMember struct {
	expires int64
	weight  uint32
}

func newMirrorGroup() *mirrorGroup {
	return &mirrorGroup{members: map[netip.AddrPort]fakeMember{}}
}

// String formats a member as fakeGroupState.Members lists it: the address
// alone for a protocol-1 member, else "address:port/weight".
func memberString(k netip.AddrPort, m fakeMember) string {
	if k.Port() == 0 && m.weight == 0 {
		return k.Addr().String()
	}
	return fmt.Sprintf("%s/%d", k, m.weight)
}

// snapshotMembers reads a GroupState's members as a plugin speaking the
// given protocol version does.
func snapshotMembers(g *outputv1.GroupState, v2 bool, violate func(string, ...any)) map[netip.AddrPort]fakeMember {
	out := map[netip.AddrPort]fakeMember{}
	if !v2 {
		if len(g.GetAddresses()) > 0 || len(g.GetExpiresUnixMicros()) > 0 {
			violate("snapshot columns sent to a protocol-1 plugin")
		}
		for _, m := range g.GetMembers() {
			a, err := addrFromWire(m.GetAddress())
			if err != nil {
				violate("snapshot: %v", err)
				continue
			}
			k := netip.AddrPortFrom(a, 0)
			if _, dup := out[k]; dup {
				violate("snapshot: address %s twice in group %d", a, g.GetId())
			}
			out[k] = fakeMember{expires: m.GetExpiresUnixMicros()}
		}
		return out
	}
	if len(g.GetMembers()) > 0 {
		violate("snapshot member list sent to a protocol-2 plugin")
	}
	addrs, exp := g.GetAddresses(), g.GetExpiresUnixMicros()
	n := len(exp)
	if len(addrs) != 16*n || (len(g.GetPorts()) != 0 && len(g.GetPorts()) != n) || (len(g.GetWeights()) != 0 && len(g.GetWeights()) != n) {
		violate("snapshot columns of group %d disagree: %d address bytes, %d ports, %d weights, %d expiries",
			g.GetId(), len(addrs), len(g.GetPorts()), len(g.GetWeights()), n)
		return out
	}
	for i := range n {
		a := netip.AddrFrom16([16]byte(addrs[16*i:])).Unmap()
		var port, weight uint32
		if len(g.GetPorts()) > 0 {
			port = g.GetPorts()[i]
		}
		if len(g.GetWeights()) > 0 {
			weight = g.GetWeights()[i]
		}
		out[netip.AddrPortFrom(a, uint16(port))] = fakeMember{expires: exp[i], weight: weight}
	}
	return out
}

type fakeServer struct {
	outputv1.UnimplementedOutputServiceServer
	kind, behaviour, dir string

	mu    sync.Mutex
	state fakeState
}

func runFakePlugin(kind, dir string) {
	behaviour, _, _ := strings.Cut(kind, "-")
	appendLine(filepath.Join(dir, kind+".starts"), fmt.Sprint(os.Getpid(), " ", time.Now().UnixNano()))
	s := &fakeServer{kind: kind, behaviour: behaviour, dir: dir}
	s.state.PID = os.Getpid()
	s.state.Events = map[string]int{}
	hs := handshake.Handshake
	sets := map[int]plugin.PluginSet{handshake.ProtocolVersion: {handshake.PluginName: &handshake.ServerPlugin{Service: s}}}
	grpcServer := plugin.DefaultGRPCServer
	switch behaviour {
	case "crash":
		fmt.Fprintln(os.Stderr, "boom: fake plugin crashed at start")
		os.Exit(3)
	case "envdump":
		b, _ := json.Marshal(os.Environ())
		if err := os.WriteFile(filepath.Join(dir, kind+".env"), b, 0o600); err != nil {
			panic(err)
		}
	case "badcookie":
		hs.MagicCookieValue = "not-the-right-cookie"
	case "badversion":
		hs.ProtocolVersion = 2
		sets = map[int]plugin.PluginSet{2: {handshake.PluginName: &handshake.ServerPlugin{Service: s}}}
	case "netrpc":
		sets = map[int]plugin.PluginSet{handshake.ProtocolVersion: {handshake.PluginName: fakeNetRPCPlugin{}}}
		grpcServer = nil
	case "stdout":
		fmt.Println("hello from a plugin that prints before the handshake")
	case "hangstart":
		time.Sleep(time.Hour)
	case "garbage":
		go floodStderr()
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: sets,
		GRPCServer:       grpcServer,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Debug}),
	})
}

// floodStderr writes non-JSON junk to the real stderr (fd 2, which go-plugin
// parses), then keeps trickling it.
func floodStderr() {
	fd2, err := syscall.Dup(2)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd2), "stderr")
	junk := [][]byte{
		[]byte("{not json\n"),
		[]byte("{\"@level\":12,\"@message\":[]}\n"),
		[]byte("{\"@message\":\"no level\"}\n"),
		bytes.Repeat([]byte("x"), 200<<10), // a 200 KiB line without newline yet
		[]byte("\n\x00\xff\xfe binary \x1b[31m\n"),
		[]byte("panic: not really\n"),
		[]byte("[ERROR] looks like a level prefix\n"),
	}
	for i := 0; i < 2000; i++ {
		if _, err := f.Write(junk[i%len(junk)]); err != nil {
			return
		}
	}
	for {
		time.Sleep(time.Millisecond)
		if _, err := f.Write(junk[0]); err != nil {
			return
		}
	}
}

// addrFromWire decodes a wire address as a plugin does.
func addrFromWire(b []byte) (netip.Addr, error) {
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		return netip.Addr{}, fmt.Errorf("address of %d bytes: want 4 or 16", len(b))
	}
	return a.Unmap(), nil
}

type fakeNetRPCPlugin struct{}

func (fakeNetRPCPlugin) Server(*plugin.MuxBroker) (any, error)              { return new(int), nil }
func (fakeNetRPCPlugin) Client(*plugin.MuxBroker, *rpc.Client) (any, error) { return nil, nil }

// speaksV2: "v2" and "bench" speak plugin protocol 2, like plugins built
// with this SDK; the others speak only protocol 1, like plugins built
// before it.
func (s *fakeServer) speaksV2() bool { return s.behaviour == "v2" || s.behaviour == "bench" }

func (s *fakeServer) GetInfo(context.Context, *outputv1.GetInfoRequest) (*outputv1.GetInfoResponse, error) {
	resp := &outputv1.GetInfoResponse{Name: s.kind, PluginVersion: "fake-1.0", ProtocolVersions: []uint32{1}}
	switch s.behaviour {
	case "v2":
		resp.ProtocolVersions = []uint32{1, 2}
		resp.Capabilities = []outputv1.Capability{outputv1.Capability_CAPABILITY_EXPIRY_UPDATES}
	case "bench":
		resp.ProtocolVersions = []uint32{1, 2}
	case "badproto":
		resp.ProtocolVersions = []uint32{7}
	case "expiry":
		resp.Capabilities = []outputv1.Capability{outputv1.Capability_CAPABILITY_EXPIRY_UPDATES}
	case "regroup":
		resp.Capabilities = []outputv1.Capability{outputv1.Capability_CAPABILITY_GROUP_UPDATES}
	}
	return resp, nil
}

// ValidateConfig rejects every line of the spec that starts with "bad",
// and reports a line "bind: NETWORK ADDRESS" as an address it binds.
func (s *fakeServer) ValidateConfig(_ context.Context, req *outputv1.ValidateConfigRequest) (*outputv1.ValidateConfigResponse, error) {
	s.recordSpec(req.GetSpec())
	var resp outputv1.ValidateConfigResponse
	for i, line := range strings.Split(string(req.GetSpec().GetYaml()), "\n") {
		key, val, _ := strings.Cut(strings.TrimSpace(line), ":")
		if network, address, ok := strings.Cut(strings.TrimSpace(val), " "); key == "bind" && ok {
			resp.Binds = append(resp.Binds, &outputv1.Bind{Network: network, Address: address})
		}
		if strings.HasPrefix(key, "bad") {
			resp.Diagnostics = append(resp.Diagnostics, &outputv1.Diagnostic{
				Key: key, Line: req.GetSpec().GetLine() + uint32(i), Message: "unknown key",
			})
		}
	}
	return &resp, nil
}

// Configure subscribes to the groups listed in a spec line "groups: 1,2",
// to group 999 for the unknowngroup behaviour, and to all groups otherwise.
func (s *fakeServer) Configure(_ context.Context, req *outputv1.ConfigureRequest) (*outputv1.ConfigureResponse, error) {
	s.recordSpec(req.GetSpec())
	s.mu.Lock()
	s.state.Configured = fakeGroupList(req.GetGroups())
	s.mu.Unlock()
	if s.behaviour == "unknowngroup" {
		return &outputv1.ConfigureResponse{Groups: []uint64{1, 999}}, nil
	}
	for _, line := range strings.Split(string(req.GetSpec().GetYaml()), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "groups:"); ok {
			var ids []uint64
			for _, f := range strings.Split(v, ",") {
				var id uint64
				if _, err := fmt.Sscan(strings.TrimSpace(f), &id); err != nil {
					return nil, fmt.Errorf("spec line %q: group %q: %w", line, f, err)
				}
				ids = append(ids, id)
			}
			return &outputv1.ConfigureResponse{Groups: ids}, nil
		}
	}
	return &outputv1.ConfigureResponse{AllGroups: true}, nil
}

// fakeGroupList formats groups as fakeState.Configured holds them.
func fakeGroupList(groups []*outputv1.GroupInfo) []string {
	var out []string
	for _, g := range groups {
		out = append(out, fmt.Sprintf("%d/%v/%v", g.GetId(),
			time.Duration(g.GetExpireMicros())*time.Microsecond, time.Duration(g.GetReadinessDelayMicros())*time.Microsecond))
	}
	return out
}

func (s *fakeServer) recordSpec(sp *outputv1.OutputSpec) {
	s.mu.Lock()
	s.state.Specs = append(s.state.Specs, fmt.Sprintf("%s:%d:%d", sp.GetFile(), sp.GetLine(), sp.GetIndex()))
	s.mu.Unlock()
}

// Metrics: "metrics" exports how many stream messages it received;
// "metricshang" never answers; the others predate the call
// (Unimplemented).
func (s *fakeServer) Metrics(ctx context.Context, req *outputv1.MetricsRequest) (*outputv1.MetricsResponse, error) {
	switch s.behaviour {
	case "metrics":
		s.mu.Lock()
		n := s.state.Messages
		s.mu.Unlock()
		return &outputv1.MetricsResponse{Families: []*outputv1.MetricFamily{{
			Name: "messages_total", Help: "Stream messages.", Type: outputv1.MetricType_METRIC_TYPE_COUNTER,
			LabelNames: []string{"via"},
			Samples:    []*outputv1.Sample{{LabelValues: []string{"stream"}, Value: float64(n)}},
		}}}, nil
	case "metricshang":
		select {} // never returns, not even when the host gives up
	}
	return s.UnimplementedOutputServiceServer.Metrics(ctx, req)
}

func (s *fakeServer) Stop(ctx context.Context, _ *outputv1.StopRequest) (*outputv1.StopResponse, error) {
	if s.behaviour == "ignorestop" {
		select {} // never returns, not even when the host gives up
	}
	return &outputv1.StopResponse{}, nil
}

func (s *fakeServer) Stream(st grpc.BidiStreamingServer[outputv1.StreamRequest, outputv1.StreamResponse]) error {
	var (
		last     uint64
		inSnap   bool
		started  bool
		mirror   = map[uint64]*mirrorGroup{}
		building map[uint64]*mirrorGroup
	)
	violate := func(f string, a ...any) {
		s.mu.Lock()
		s.state.Violations = append(s.state.Violations, fmt.Sprintf(f, a...))
		s.mu.Unlock()
	}
	for {
		req, err := st.Recv()
		if err != nil {
			return nil
		}
		if req.GetSeq() != last+1 {
			violate("seq %d after %d", req.GetSeq(), last)
		}
		last = req.GetSeq()
		write := false
		switch p := req.GetPayload().(type) {
		case *outputv1.StreamRequest_Snapshot:
			sn := p.Snapshot
			if sn.GetFirst() {
				if inSnap {
					violate("snapshot restarted before its last chunk")
				}
				inSnap, building = true, map[uint64]*mirrorGroup{}
			} else if sn.GetGroupList() != nil {
				violate("group list on snapshot chunk %d, not the first", last)
			} else if !inSnap {
				violate("snapshot chunk %d without a first chunk", last)
				continue
			}
			for _, g := range sn.GetGroups() {
				mg := building[g.GetId()]
				if mg == nil {
					mg = newMirrorGroup()
					building[g.GetId()] = mg
				}
				mg.ready = g.GetReady()
				for k, m := range snapshotMembers(g, s.speaksV2(), violate) {
					if _, dup := mg.members[k]; dup {
						violate("snapshot: member %s twice in group %d", k, g.GetId())
					}
					mg.members[k] = m
				}
			}
			if l := sn.GetGroupList(); l != nil && sn.GetFirst() {
				if s.behaviour != "regroup" {
					violate("group list sent to a plugin without CAPABILITY_GROUP_UPDATES")
				}
				s.mu.Lock()
				s.state.Configured = fakeGroupList(l.GetGroups())
				s.state.GroupLists++
				s.mu.Unlock()
			}
			if sn.GetLast() {
				inSnap, started, mirror = false, true, building
				s.mu.Lock()
				s.state.Snapshots++
				s.mu.Unlock()
				write = true
			}
		case *outputv1.StreamRequest_Events:
			if inSnap || !started {
				violate("events at seq %d inside or before a snapshot", last)
			}
			if len(p.Events.GetEvents()) == 0 {
				s.mu.Lock()
				s.state.Heartbeats++
				s.mu.Unlock()
			}
			for _, e := range p.Events.GetEvents() {
				s.mu.Lock()
				s.state.Events[e.GetType().String()]++
				s.mu.Unlock()
				mg := mirror[e.GetGroup()]
				if mg == nil {
					mg = newMirrorGroup()
					mirror[e.GetGroup()] = mg
				}
				if e.GetType() == outputv1.EventType_EVENT_TYPE_READY {
					mg.ready = true
					continue
				}
				a, err := addrFromWire(e.GetMember().GetAddress())
				if err != nil {
					violate("event: %v", err)
					continue
				}
				k, m := netip.AddrPortFrom(a, 0), fakeMember{expires: e.GetMember().GetExpiresUnixMicros()}
				if s.speaksV2() {
					k, m.weight = netip.AddrPortFrom(a, uint16(e.GetMember().GetPort())), e.GetMember().GetWeight()
				}
				_, had := mg.members[k]
				switch e.GetType() {
				case outputv1.EventType_EVENT_TYPE_JOIN:
					if had {
						violate("join of member %s already in group %d", k, e.GetGroup())
					}
					mg.members[k] = m
				case outputv1.EventType_EVENT_TYPE_EXPIRY:
					if !had {
						violate("expiry of non-member %s of group %d", k, e.GetGroup())
					}
					mg.members[k] = m
				case outputv1.EventType_EVENT_TYPE_LEAVE:
					if !had {
						violate("leave of non-member %s from group %d", k, e.GetGroup())
					}
					delete(mg.members, k)
				}
			}
			write = true
		default:
			violate("empty payload at seq %d", last)
		}
		s.mu.Lock()
		s.state.Messages++
		s.mu.Unlock()
		if write && s.behaviour != "bench" {
			s.writeState(mirror)
		}
		switch s.behaviour {
		case "noack":
			if last > 1 {
				continue // acknowledges only the first message, then never again
			}
		case "slow":
			time.Sleep(20 * time.Millisecond)
		}
		ack := last
		if s.behaviour == "overack" {
			ack = last + 100 // acknowledges what it was never sent
		}
		if err := st.Send(&outputv1.StreamResponse{AckSeq: ack}); err != nil {
			return nil
		}
	}
}

func (s *fakeServer) writeState(mirror map[uint64]*mirrorGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Groups = map[uint64]*fakeGroupState{}
	for id, mg := range mirror {
		gs := &fakeGroupState{Ready: mg.ready, N: len(mg.members)}
		if len(mg.members) <= 1000 {
			for k, m := range mg.members {
				gs.Members = append(gs.Members, memberString(k, m))
			}
			sort.Strings(gs.Members)
		}
		s.state.Groups[id] = gs
	}
	b, err := json.Marshal(&s.state)
	if err != nil {
		panic(err)
	}
	tmp := filepath.Join(s.dir, fmt.Sprintf(".%s.%d.tmp", s.kind, os.Getpid()))
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return
	}
	_ = os.Rename(tmp, filepath.Join(s.dir, s.kind+".state.json"))
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
