package sdk_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/internal/inprocess"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// rawClient serves p in-process and returns a client that speaks the wire
// protocol directly, to test what the host may and may not send.
func rawClient(t *testing.T, p sdk.Plugin) outputv1.OutputServiceClient {
	t.Helper()
	svc := inprocess.Lookup[sdk.Plugin]().NewServer(p, inprocess.Options{Log: hclog.NewNullLogger(), Exit: func(err error) { t.Errorf("plugin exited: %v", err) }})
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	outputv1.RegisterOutputServiceServer(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///raw",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c := outputv1.NewOutputServiceClient(conn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sdktest.Timeout)
		defer cancel()
		_, _ = c.Stop(ctx, &outputv1.StopRequest{})
		_ = conn.Close()
		srv.Stop()
	})
	return c
}

func configure(t *testing.T, c outputv1.OutputServiceClient, spec string, groups ...uint64) *outputv1.ConfigureResponse {
	t.Helper()
	req := &outputv1.ConfigureRequest{Spec: &outputv1.OutputSpec{Yaml: []byte(spec), File: "rgap.yaml", Line: 1}}
	for _, g := range groups {
		req.Groups = append(req.Groups, &outputv1.GroupInfo{Id: g})
	}
	resp, err := c.Configure(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func snapshotMsg(seq uint64, first, last bool, groups ...*outputv1.GroupState) *outputv1.StreamRequest {
	return &outputv1.StreamRequest{Seq: seq, Payload: &outputv1.StreamRequest_Snapshot{Snapshot: &outputv1.Snapshot{First: first, Last: last, Groups: groups}}}
}

func eventsMsg(seq uint64, evs ...*outputv1.Event) *outputv1.StreamRequest {
	return &outputv1.StreamRequest{Seq: seq, Payload: &outputv1.StreamRequest_Events{Events: &outputv1.Events{Events: evs}}}
}

func member(a byte) *outputv1.Member {
	return &outputv1.Member{Address: []byte{10, 0, 0, a}, ExpiresUnixMicros: 1}
}

func TestGetInfo(t *testing.T) {
	for _, expiry := range []bool{false, true} {
		c := rawClient(t, sdk.Plugin{Name: "dns", Version: "1.2.3", ExpiryUpdates: expiry, New: func(*sdk.Config) (sdk.Output, error) { return nil, nil }})
		info, err := c.GetInfo(context.Background(), &outputv1.GetInfoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		hasCap := slices.Contains(info.GetCapabilities(), outputv1.Capability_CAPABILITY_EXPIRY_UPDATES)
		if info.GetName() != "dns" || info.GetPluginVersion() != "1.2.3" || !slices.Equal(info.GetProtocolVersions(), []uint32{1, 2}) || hasCap != expiry {
			t.Fatalf("GetInfo = %v (ExpiryUpdates %v)", info, expiry)
		}
	}
}

func TestConfigureReportsSubscription(t *testing.T) {
	rec := newRecorder()
	c := rawClient(t, recorderPlugin(rec))
	if r := configure(t, c, "", 1, 2); !r.GetAllGroups() || len(r.GetDiagnostics()) != 0 {
		t.Fatalf("Configure without Subscribe = %v; want all groups", r)
	}
	c = rawClient(t, recorderPlugin(rec))
	if r := configure(t, c, "groups: [2, 1, 2]", 1, 2); r.GetAllGroups() || !slices.Equal(r.GetGroups(), []uint64{1, 2}) {
		t.Fatalf("Configure with Subscribe(2, 1, 2) = %v; want groups [1 2]", r)
	}
	c = rawClient(t, recorderPlugin(rec))
	r := configure(t, c, "groups: [3]", 1, 2)
	if len(r.GetDiagnostics()) != 1 || !strings.Contains(r.GetDiagnostics()[0].GetMessage(), "group 3") {
		t.Fatalf("Configure subscribing to an unknown group = %v; want a diagnostic naming group 3", r)
	}
}

func TestStreamAcksEveryMessage(t *testing.T) {
	rec := newRecorder()
	c := rawClient(t, recorderPlugin(rec))
	configure(t, c, "", 1, 2)
	st, err := c.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	msgs := []*outputv1.StreamRequest{
		snapshotMsg(1, true, false, &outputv1.GroupState{Id: 1, Members: []*outputv1.Member{member(1)}}),
		snapshotMsg(2, false, false, &outputv1.GroupState{Id: 1, Members: []*outputv1.Member{member(2)}}),
		snapshotMsg(3, false, true, &outputv1.GroupState{Id: 2, Ready: true}),
		eventsMsg(4), // heartbeat
		eventsMsg(7, &outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_JOIN, Group: 2, Member: member(3)}), // gaps are allowed
		eventsMsg(8, &outputv1.Event{Type: 99, Group: 2}),                                                    // a newer host's event type: ignored
	}
	for _, m := range msgs {
		if err := st.Send(m); err != nil {
			t.Fatal(err)
		}
		resp, err := st.Recv()
		if err != nil {
			t.Fatalf("seq %d: %v", m.GetSeq(), err)
		}
		if resp.GetAckSeq() != m.GetSeq() {
			t.Fatalf("ack %d for seq %d", resp.GetAckSeq(), m.GetSeq())
		}
	}
	env := rec.waitEnv(t)
	if got := env.Groups.Members(1); len(got) != 2 {
		t.Fatalf("group 1 has %v after a two-chunk snapshot", got)
	}
	if got := env.Groups.Members(2); len(got) != 1 || !env.Groups.Ready(2) {
		t.Fatalf("group 2 has %v (ready %v)", got, env.Groups.Ready(2))
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
}

func TestStreamRejectsProtocolViolations(t *testing.T) {
	join := &outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_JOIN, Group: 1, Member: member(1)}
	tests := []struct {
		name string
		msgs []*outputv1.StreamRequest
		want string
	}{
		{"events first", []*outputv1.StreamRequest{eventsMsg(1, join)}, "events before the first snapshot"},
		{"chunk without first", []*outputv1.StreamRequest{snapshotMsg(1, false, true)}, "must begin with a snapshot chunk marked first"},
		{"seq goes back", []*outputv1.StreamRequest{snapshotMsg(5, true, true), eventsMsg(5)}, "seq 5 does not follow seq 5"},
		{"events inside snapshot", []*outputv1.StreamRequest{snapshotMsg(1, true, false), eventsMsg(2, join)}, "events inside a snapshot"},
		{"snapshot restarts", []*outputv1.StreamRequest{snapshotMsg(1, true, false), snapshotMsg(2, true, true)}, "before the previous one ended"},
		{"bad address", []*outputv1.StreamRequest{snapshotMsg(1, true, true, &outputv1.GroupState{Id: 1, Members: []*outputv1.Member{{Address: []byte{1, 2, 3}}}})}, "group 1: member address of 3 bytes"},
		{"join without member", []*outputv1.StreamRequest{snapshotMsg(1, true, true), eventsMsg(2, &outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_JOIN, Group: 1})}, "group 1: EVENT_TYPE_JOIN event without a member"},
		{"empty message", []*outputv1.StreamRequest{{Seq: 1}}, "neither a snapshot nor events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawClient(t, recorderPlugin(newRecorder()))
			configure(t, c, "", 1)
			st, err := c.Stream(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.msgs {
				if err := st.Send(m); err != nil {
					break
				}
			}
			for {
				_, err = st.Recv()
				if err != nil {
					break
				}
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("stream ended with %v; want InvalidArgument saying %q", err, tt.want)
			}
		})
	}
}

func TestStreamNeedsConfigure(t *testing.T) {
	c := rawClient(t, recorderPlugin(newRecorder()))
	st, err := c.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Stream before Configure: %v; want FailedPrecondition", err)
	}
}

func TestStopBeforeStreamReturns(t *testing.T) {
	c := rawClient(t, recorderPlugin(newRecorder()))
	configure(t, c, "", 1)
	ctx, cancel := context.WithTimeout(context.Background(), sdktest.Timeout)
	defer cancel()
	if _, err := c.Stop(ctx, &outputv1.StopRequest{}); err != nil {
		t.Fatalf("Stop before Run started: %v", err)
	}
}

// The host sends members sorted and once, but the mirror must not rely on
// it: members arriving out of order, or twice (the later one wins), still
// make a sorted mirror and sorted joins.
func TestSnapshotMembersInAnyOrder(t *testing.T) {
	rec := newRecorder()
	c := rawClient(t, recorderPlugin(rec))
	configure(t, c, "", 1)
	st, err := c.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	at := func(a byte, us int64) *outputv1.Member {
		return &outputv1.Member{Address: []byte{10, 0, 0, a}, ExpiresUnixMicros: us}
	}
	msgs := []*outputv1.StreamRequest{
		snapshotMsg(1, true, false, &outputv1.GroupState{Id: 1, Members: []*outputv1.Member{at(3, 1), at(1, 1)}}),
		snapshotMsg(2, false, true, &outputv1.GroupState{Id: 1, Members: []*outputv1.Member{at(2, 1), at(3, 2)}}),
	}
	for _, m := range msgs {
		if err := st.Send(m); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatalf("seq %d: %v", m.GetSeq(), err)
		}
	}
	env := rec.waitEnv(t)
	want := []sdk.Member{
		{Addr: netip.MustParseAddr("10.0.0.1"), Expires: time.UnixMicro(1)},
		{Addr: netip.MustParseAddr("10.0.0.2"), Expires: time.UnixMicro(1)},
		{Addr: netip.MustParseAddr("10.0.0.3"), Expires: time.UnixMicro(2)},
	}
	memberEq := func(a, b sdk.Member) bool { return a.Addr == b.Addr && a.Expires.Equal(b.Expires) }
	if got := env.Groups.Members(1); !slices.EqualFunc(got, want, memberEq) {
		t.Fatalf("Members(1) = %v, want %v", got, want)
	}
	var joins []sdk.Member
	for _, e := range rec.take() {
		if e.Kind == sdk.EventJoin {
			joins = append(joins, e.Member)
		}
	}
	if !slices.EqualFunc(joins, want, memberEq) {
		t.Fatalf("joins = %v, want %v", joins, want)
	}
}
