package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rgap-project/rgap/internal/pluginproto"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// service implements OutputService on top of a Plugin. Serve runs it under
// go-plugin; sdktest runs it in-process.
type service struct {
	outputv1.UnimplementedOutputServiceServer

	plugin  Plugin
	log     hclog.Logger
	metrics *Metrics
	// exit is called when the output failed (Run returned an error on its
	// own, or a handler panicked); under Serve it ends the process so the
	// host restarts the plugin.
	exit func(error)

	mu        sync.Mutex
	out       Output
	handler   EventHandler // out, if it implements EventHandler
	mirror    *Mirror
	subAll    bool
	subs      []uint64 // sorted; used when !subAll
	streaming bool
	run       *runState
	stopped   bool
}

// runState is the goroutine running Output.Run.
type runState struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
	// failed: Run ended on its own with an error, which was reported
	// through exit already. Set before done is closed.
	failed bool
}

func newService(p Plugin, log hclog.Logger, exit func(error)) *service {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &service{plugin: p, log: log, exit: exit, metrics: newMetrics(log)}
}

func (s *service) GetInfo(context.Context, *outputv1.GetInfoRequest) (*outputv1.GetInfoResponse, error) {
	resp := &outputv1.GetInfoResponse{
		Name:             s.plugin.Name,
		PluginVersion:    s.plugin.Version,
		ProtocolVersions: []uint32{pluginproto.ProtocolV1, pluginproto.ProtocolV2},
	}
	if s.plugin.ExpiryUpdates {
		resp.Capabilities = append(resp.Capabilities, outputv1.Capability_CAPABILITY_EXPIRY_UPDATES)
	}
	resp.Capabilities = append(resp.Capabilities, outputv1.Capability_CAPABILITY_GROUP_UPDATES)
	return resp, nil
}

func groupsFromWire(in []*outputv1.GroupInfo) []GroupInfo {
	out := make([]GroupInfo, 0, len(in))
	for _, g := range in {
		out = append(out, GroupInfo{
			ID:             g.GetId(),
			Expire:         time.Duration(g.GetExpireMicros()) * time.Microsecond,
			ReadinessDelay: time.Duration(g.GetReadinessDelayMicros()) * time.Microsecond,
		})
	}
	return out
}

// build runs Plugin.New on a spec and turns every problem into diagnostics.
func (s *service) build(spec *outputv1.OutputSpec, groups []*outputv1.GroupInfo) (Output, *Config, []*outputv1.Diagnostic) {
	cfg := newConfig(spec.GetYaml(), spec.GetFile(), int(spec.GetLine()), groupsFromWire(groups), s.log)
	out, err := s.callNew(cfg)
	if err != nil {
		return nil, cfg, diagnostics(err, int(spec.GetLine()))
	}
	if out == nil {
		return nil, cfg, []*outputv1.Diagnostic{{
			Line:    spec.GetLine(),
			Message: fmt.Sprintf("plugin %q returned no output and no error (a bug in the plugin)", s.plugin.Name),
		}}
	}
	var diags []*outputv1.Diagnostic
	for _, id := range cfg.impl.unknownGroups() {
		diags = append(diags, &outputv1.Diagnostic{
			Line:    spec.GetLine(),
			Message: fmt.Sprintf("group %d: %v", id, ErrUnknownGroup),
		})
	}
	return out, cfg, diags
}

// callNew calls Plugin.New, turning a panic into an error.
func (s *service) callNew(cfg *Config) (out Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("plugin panicked while reading its configuration", "panic", r, "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("the plugin crashed while reading its configuration (a bug in the plugin): %v", r)
		}
	}()
	if s.plugin.New == nil {
		return nil, fmt.Errorf("plugin %q has no New function (a bug in the plugin)", s.plugin.Name)
	}
	return s.plugin.New(cfg)
}

// diagnostics turns New's error into diagnostics: one per DecodeError found
// (errors.Join trees are walked), and one for any other error.
func diagnostics(err error, specLine int) []*outputv1.Diagnostic {
	var out []*outputv1.Diagnostic
	var walk func(error)
	walk = func(err error) {
		var de *DecodeError
		switch x := err.(type) {
		case *DecodeError:
			msg := "invalid value"
			if x.Err != nil {
				msg = x.Err.Error()
			}
			out = append(out, &outputv1.Diagnostic{Key: x.Key, Line: uint32(max(x.Line, 0)), Message: msg})
			return
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if e != nil {
					walk(e)
				}
			}
			return
		}
		if errors.As(err, &de) {
			// A wrapped DecodeError: keep its key and line, and the
			// wrapper's words around its message.
			msg := err.Error()
			if de.Err != nil {
				msg = strings.Replace(msg, de.Error(), de.Err.Error(), 1)
			}
			out = append(out, &outputv1.Diagnostic{Key: de.Key, Line: uint32(max(de.Line, 0)), Message: msg})
			return
		}
		out = append(out, &outputv1.Diagnostic{Line: uint32(max(specLine, 0)), Message: err.Error()})
	}
	walk(err)
	return out
}

func (s *service) ValidateConfig(_ context.Context, req *outputv1.ValidateConfigRequest) (*outputv1.ValidateConfigResponse, error) {
	out, _, diags := s.build(req.GetSpec(), req.GetGroups())
	if len(diags) > 0 {
		return &outputv1.ValidateConfigResponse{Diagnostics: diags}, nil
	}
	binds, err := s.callBinds(out)
	if err != nil {
		return &outputv1.ValidateConfigResponse{Diagnostics: []*outputv1.Diagnostic{{
			Line: req.GetSpec().GetLine(), Message: err.Error(),
		}}}, nil
	}
	return &outputv1.ValidateConfigResponse{Binds: binds}, nil
}

// callBinds asks an Output that implements Binder for its addresses,
// turning a panic into an error.
func (s *service) callBinds(out Output) (binds []*outputv1.Bind, err error) {
	b, ok := out.(Binder)
	if !ok {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("plugin panicked while listing its addresses", "panic", r, "stack", string(debug.Stack()))
			binds, err = nil, fmt.Errorf("the plugin crashed while listing the addresses it binds (a bug in the plugin): %v", r)
		}
	}()
	for _, a := range b.Binds() {
		binds = append(binds, &outputv1.Bind{Network: a.Network, Address: a.Address})
	}
	return binds, nil
}

func (s *service) Configure(_ context.Context, req *outputv1.ConfigureRequest) (*outputv1.ConfigureResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil || s.streaming {
		return nil, status.Error(codes.FailedPrecondition, "the output is already running; restart the plugin to reconfigure it")
	}
	out, cfg, diags := s.build(req.GetSpec(), req.GetGroups())
	if len(diags) > 0 {
		return &outputv1.ConfigureResponse{Diagnostics: diags}, nil
	}
	s.out = out
	s.handler, _ = out.(EventHandler)
	s.subAll = !cfg.impl.subscribed
	s.subs = slices.Clone(cfg.impl.subs)
	s.mirror = &Mirror{}
	if s.subAll {
		ids := make([]uint64, 0, len(cfg.impl.groups))
		for _, g := range cfg.impl.groups {
			ids = append(ids, g.ID)
		}
		s.mirror.impl.setKnown(ids)
		return &outputv1.ConfigureResponse{AllGroups: true}, nil
	}
	s.mirror.impl.setKnown(s.subs)
	return &outputv1.ConfigureResponse{Groups: slices.Clone(s.subs)}, nil
}

// errProtocol marks a host message that breaks the stream's rules.
var errProtocol = errors.New("protocol violation")

func (s *service) Stream(stream grpc.BidiStreamingServer[outputv1.StreamRequest, outputv1.StreamResponse]) error {
	s.mu.Lock()
	if s.out == nil {
		s.mu.Unlock()
		return status.Error(codes.FailedPrecondition, "Stream called before a successful Configure")
	}
	if s.streaming {
		s.mu.Unlock()
		return status.Error(codes.FailedPrecondition, "another Stream is already open")
	}
	s.streaming = true
	sp := &streamProc{svc: s, mirror: s.mirror, handler: s.handler, subAll: s.subAll, subs: s.subs}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.streaming = false
		s.mu.Unlock()
	}()

	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := sp.handle(req); err != nil {
			s.log.Error("stream from the host failed", "seq", req.GetSeq(), "error", err)
			if errors.Is(err, errProtocol) {
				return status.Error(codes.InvalidArgument, err.Error())
			}
			return status.Error(codes.Internal, err.Error())
		}
		if err := stream.Send(&outputv1.StreamResponse{AckSeq: req.GetSeq()}); err != nil {
			return err
		}
	}
}

// streamProc applies one stream's messages to the mirror.
type streamProc struct {
	svc     *service
	mirror  *Mirror
	handler EventHandler
	subAll  bool
	subs    []uint64

	lastSeq uint64
	staged  map[uint64]*wireGroup // non-nil while a snapshot is arriving
	list    *outputv1.GroupList   // the arriving snapshot's new group list, if any
	synced  bool                  // a complete snapshot was applied on this stream
	changed []uint64              // scratch: groups changed by the current message
	dropped uint64                // state of groups the output did not subscribe to
}

func (p *streamProc) wants(group uint64) bool {
	if p.subAll {
		return true
	}
	_, ok := slices.BinarySearch(p.subs, group)
	return ok
}

// handle applies one message; handlers run before it returns. A panicking
// handler ends the output like a failed Run.
func (p *streamProc) handle(req *outputv1.StreamRequest) (err error) {
	defer func() {
		if r := recover(); r != nil {
			p.svc.log.Error("event handler panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("event handler panicked: %v", r)
			p.svc.fail(err)
		}
	}()
	seq := req.GetSeq()
	if seq <= p.lastSeq {
		return fmt.Errorf("%w: seq %d does not follow seq %d", errProtocol, seq, p.lastSeq)
	}
	p.lastSeq = seq
	switch pl := req.GetPayload().(type) {
	case *outputv1.StreamRequest_Snapshot:
		return p.snapshot(seq, pl.Snapshot)
	case *outputv1.StreamRequest_Events:
		if p.staged != nil {
			return fmt.Errorf("%w: seq %d: events inside a snapshot (its last chunk has not arrived)", errProtocol, seq)
		}
		if !p.synced {
			return fmt.Errorf("%w: seq %d: events before the first snapshot", errProtocol, seq)
		}
		return p.events(seq, pl.Events.GetEvents())
	}
	return fmt.Errorf("%w: seq %d carries neither a snapshot nor events", errProtocol, seq)
}

func (p *streamProc) snapshot(seq uint64, snap *outputv1.Snapshot) error {
	if snap.GetFirst() {
		if p.staged != nil {
			return fmt.Errorf("%w: seq %d starts a snapshot before the previous one ended", errProtocol, seq)
		}
		p.staged = map[uint64]*wireGroup{}
		p.list = snap.GetGroupList()
	} else if p.staged == nil {
		if !p.synced {
			return fmt.Errorf("%w: seq %d: the stream must begin with a snapshot chunk marked first", errProtocol, seq)
		}
		return fmt.Errorf("%w: seq %d: snapshot chunk without a first chunk", errProtocol, seq)
	}
	for _, gs := range snap.GetGroups() {
		id := gs.GetId()
		if !p.wants(id) {
			p.drop(seq, id)
			continue
		}
		g := p.staged[id]
		if g == nil {
			g = &wireGroup{}
			p.staged[id] = g
		}
		g.ready = g.ready || gs.GetReady()
		if err := g.add(gs); err != nil {
			return fmt.Errorf("%w: seq %d: group %d: %w", errProtocol, seq, id, err)
		}
	}
	if !snap.GetLast() {
		return nil
	}
	staged := make(map[uint64]*stagedGroup, len(p.staged))
	for id, g := range p.staged {
		staged[id] = g.finish()
	}
	p.staged = nil
	if p.list != nil {
		list := p.list
		p.list = nil
		if err := p.applyGroupList(seq, list); err != nil {
			return err
		}
	}
	diffs, changed := p.mirror.impl.replace(staged)
	if p.svc.log.IsDebug() {
		n := 0
		for _, d := range diffs {
			n += len(d.leaves) + len(d.joins)
			if d.ready {
				n++
			}
		}
		p.svc.log.Debug("applied a snapshot", "seq", seq, "groups", len(staged), "changes", n, "resync", p.synced)
	}
	p.synced = true
	for _, d := range diffs {
		e := Event{Kind: EventLeave, Group: d.id}
		for _, m := range d.leaves {
			e.Member = m
			p.deliver(e)
		}
		e.Kind = EventJoin
		for _, m := range d.joins {
			e.Member = m
			p.deliver(e)
		}
		if d.ready {
			p.deliver(Event{Kind: EventReady, Group: d.id})
		}
	}
	p.deliver(Event{Kind: EventResync})
	p.mirror.impl.notify(changed)
	p.svc.startRun(p.mirror)
	return nil
}

func (p *streamProc) events(seq uint64, evs []*outputv1.Event) error {
	p.changed = p.changed[:0]
	for _, ev := range evs {
		e, err := eventFromWire(ev)
		if err != nil {
			return fmt.Errorf("%w: seq %d: %w", errProtocol, seq, err)
		}
		if e.Kind == 0 {
			// An event type from a newer host: this SDK cannot apply it.
			if p.svc.log.IsTrace() {
				p.svc.log.Trace("ignoring unknown event type", "seq", seq, "type", ev.GetType().String())
			}
			continue
		}
		if !p.wants(e.Group) {
			p.drop(seq, e.Group)
			continue
		}
		out, ok, changed := p.mirror.impl.apply(e)
		if changed && !slices.Contains(p.changed, e.Group) {
			p.changed = append(p.changed, e.Group)
		}
		if ok {
			p.deliver(out)
		}
	}
	p.mirror.impl.notify(p.changed)
	return nil
}

// drop counts state the host sent for a group the output did not
// subscribe to (a host bug, harmless to the output).
func (p *streamProc) drop(seq, group uint64) {
	p.dropped++
	if p.dropped == 1 {
		p.svc.log.Debug("ignoring state of a group the output did not subscribe to", "seq", seq, "group", group)
	}
}

func (p *streamProc) deliver(e Event) {
	if p.handler != nil {
		p.handler.HandleEvent(e)
	}
	p.mirror.impl.dispatch(e)
}

// Metrics reports the values of the series the output registered through
// Env.Metrics (none before Run starts).
func (s *service) Metrics(context.Context, *outputv1.MetricsRequest) (*outputv1.MetricsResponse, error) {
	return &outputv1.MetricsResponse{Families: s.metrics.snapshot()}, nil
}

// startRun starts Output.Run once, after the first complete snapshot.
func (s *service) startRun(m *Mirror) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil || s.stopped {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runState{cancel: cancel, done: make(chan struct{})}
	s.run = rs
	out := s.out
	env := &Env{Groups: m, Log: s.log, Metrics: s.metrics}
	go func() {
		defer close(rs.done)
		err := s.callRun(ctx, out, env)
		rs.err = err
		if ctx.Err() != nil {
			return // stopping: Stop reports the outcome
		}
		if err != nil {
			rs.failed = true
			s.log.Error("output failed", "error", err)
			s.fail(fmt.Errorf("output %q: %w", s.plugin.Name, err))
			return
		}
		s.log.Debug("output finished before it was stopped")
	}()
}

// callRun runs Output.Run, turning a panic into an error.
func (s *service) callRun(ctx context.Context, out Output, env *Env) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("output panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return out.Run(ctx, env)
}

func (s *service) fail(err error) {
	if s.exit != nil {
		s.exit(err)
	}
}

// Stop cancels Run's context and waits for Run to return (bounded by the
// caller's deadline). Later snapshots no longer start Run.
func (s *service) Stop(ctx context.Context, _ *outputv1.StopRequest) (*outputv1.StopResponse, error) {
	if err := s.shutdown(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, status.FromContextError(err).Err()
		}
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return &outputv1.StopResponse{}, nil
}

// shutdown stops Run and returns its error, or ctx's if Run does not
// return in time.
func (s *service) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	rs := s.run
	s.mu.Unlock()
	if rs == nil {
		return nil
	}
	rs.cancel()
	select {
	case <-rs.done:
	case <-ctx.Done():
		s.log.Warn("output did not stop in time")
		return fmt.Errorf("output %q did not stop: %w", s.plugin.Name, ctx.Err())
	}
	if rs.err != nil && !rs.failed && !errors.Is(rs.err, context.Canceled) {
		s.log.Warn("output returned an error while stopping", "error", rs.err)
		return fmt.Errorf("output %q: %w", s.plugin.Name, rs.err)
	}
	return nil
}
