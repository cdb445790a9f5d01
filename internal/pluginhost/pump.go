package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/pluginproto"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// pump feeds one plugin's stream from its subscription.
//
// Flow control is a window of Options.Window unacknowledged messages. While
// the window is full the pump sends nothing and does not read the
// subscription, so events pile up in the feed's ring, where they cost the
// plugin nothing and the ingestion path nothing; if the ring laps, the
// subscription says so and the pump sends a fresh snapshot instead of the
// lost events. Ingestion never waits for a plugin.
//
// Hang detection: while a message waits for its acknowledgement, the
// plugin must have acknowledged something within the hang timeout, and a
// Send blocked by gRPC flow control (a plugin that stopped reading) is cut
// by a watchdog after the same time. An idle stream carries a heartbeat
// every heartbeat interval (at most a third of the hang timeout), which the
// plugin acknowledges like any message; so a healthy plugin's latest
// acknowledgement is never much older than the heartbeat interval, and a
// frozen plugin, busy or idle, is noticed within the hang timeout of its
// last acknowledgement.
type pump struct {
	opts      *Options
	hang      time.Duration // the output's hang timeout
	heartbeat time.Duration // the output's heartbeat interval
	log       hclog.Logger
	stats     *outputStats
	prog      *progress // nil in benchmarks
	sub       Subscription
	filter    func(uint64) bool
	expiry    bool // the plugin wants EventExpiry
	// version is the plugin protocol version in use (see launch). For
	// version 1, merge turns members into addresses.
	version uint32
	merge   *addrMerger
	// updates carries new group lists to send (nil: the plugin does not
	// take them while running; Update restarts it instead).
	updates *groupUpdates

	stream outputv1.OutputService_StreamClient
	hung   atomic.Bool // set by the Send watchdog

	seq      uint64    // last sent
	acked    uint64    // highest acknowledged
	lastAck  time.Time // when the latest acknowledgement (or the stream) came
	lastSend time.Time

	snap   *snapCursor // snapshot being sent, nil when none
	events []Event     // events read from the subscription, not yet sent
	ei     int         // next unsent index in events

	// onCaughtUp, if set, is called whenever everything sent so far has
	// been acknowledged and nothing is pending (benchmarks use it).
	onCaughtUp func()
}

// maxEventBatch caps the events read from the subscription at once.
const maxEventBatch = 1024

// run streams until ctx is done (nil), or the plugin fails (the error).
func (p *pump) run(ctx context.Context, rpc outputv1.OutputServiceClient) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := rpc.Stream(sctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	p.stream = stream
	p.lastAck = time.Now()
	p.events = make([]Event, 0, min(p.opts.ChunkSize, maxEventBatch))

	acks := make(chan uint64, 2*p.opts.Window)
	recvErr := make(chan error, 1)
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			resp, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case acks <- resp.GetAckSeq():
			case <-sctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel()
		<-recvDone
	}()

	watchdog := time.AfterFunc(time.Hour, func() {
		p.hung.Store(true)
		cancel()
	})
	watchdog.Stop()
	defer watchdog.Stop()

	// A quarter of the heartbeat interval: 4 wake-ups a second by default,
	// the only cost of an idle stream besides its heartbeat.
	tick := max(p.heartbeat/4, 5*time.Millisecond)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()

	p.startSnapshot(p.sub.Resync())
	for {
		// A wake-up comes at least every tick; a Send is cut after the
		// hang timeout (see send).
		p.prog.step(time.Now(), tick+p.hang)
		if err := p.fill(watchdog); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var notify <-chan struct{}
		if p.inflight() < uint64(p.opts.Window) {
			notify = p.sub.Notify()
		}
		select {
		case <-ctx.Done():
			_ = stream.CloseSend()
			return nil
		case <-notify:
		case <-p.updates.notify():
		case a := <-acks:
			p.lastAck = time.Now()
			if err := p.ack(a); err != nil {
				return err
			}
			if p.onCaughtUp != nil && p.inflight() == 0 && p.idle() {
				p.onCaughtUp()
			}
		case err := <-recvErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: %w", ErrDisconnected, err)
		case now := <-ticker.C:
			if p.inflight() > 0 {
				if quiet := now.Sub(p.lastAck); quiet > p.hang {
					return fmt.Errorf("%w: no acknowledgement for %v, message %d waiting (hang timeout %v)",
						ErrHung, quiet.Round(time.Millisecond), p.acked+1, p.hang)
				}
			} else if p.idle() && now.Sub(p.lastSend) >= p.heartbeat {
				if err := p.send(&outputv1.StreamRequest{Payload: &outputv1.StreamRequest_Events{Events: &outputv1.Events{}}}, watchdog); err != nil {
					return err
				}
				p.stats.heartbeats.Add(1)
			}
		}
	}
}

func (p *pump) inflight() uint64 { return p.seq - p.acked }

// idle reports whether nothing is waiting to be sent.
func (p *pump) idle() bool { return p.snap == nil && p.ei >= len(p.events) }

func (p *pump) startSnapshot(groups []GroupSnapshot) {
	kept := groups[:0:0]
	for _, g := range groups {
		if p.filter(g.ID) {
			kept = append(kept, g)
		}
	}
	if p.version < pluginproto.ProtocolV2 {
		if p.merge == nil {
			p.merge = &addrMerger{}
		}
		kept = p.merge.snapshot(kept)
	}
	p.snap = &snapCursor{groups: kept, columns: p.version >= pluginproto.ProtocolV2}
	p.events, p.ei = p.events[:0], 0
}

// fill sends while the window has room and there is something to send.
func (p *pump) fill(watchdog *time.Timer) error {
	for p.inflight() < uint64(p.opts.Window) {
		req := p.next()
		if req == nil {
			return nil
		}
		if err := p.send(req, watchdog); err != nil {
			return err
		}
	}
	return nil
}

// next builds the next message: the rest of a snapshot, then pending
// events, then whatever the subscription has. nil when there is nothing.
func (p *pump) next() *outputv1.StreamRequest {
	for {
		if p.snap == nil {
			if list, ok := p.updates.take(); ok {
				p.log.Debug("sending the new group list with a fresh snapshot", "groups", len(list))
				p.startSnapshot(p.sub.Resync())
				p.snap.list = &outputv1.GroupList{Groups: groupsOf(list)}
			}
		}
		if p.snap != nil {
			chunk := p.snap.nextChunk(p.opts.ChunkSize)
			if p.snap.done() {
				p.snap = nil
				p.stats.snapshots.Add(1)
			}
			return &outputv1.StreamRequest{Payload: &outputv1.StreamRequest_Snapshot{Snapshot: chunk}}
		}
		for p.ei < len(p.events) {
			msg, consumed := encodeEvents(p.events[p.ei:], p.opts.ChunkSize, p.expiry, p.version >= pluginproto.ProtocolV2)
			p.ei += consumed
			if msg != nil {
				p.stats.events.Add(uint64(len(msg.Events)))
				return &outputv1.StreamRequest{Payload: &outputv1.StreamRequest_Events{Events: msg}}
			}
		}
		evs, lapped := p.sub.Next(p.events[:0])
		if lapped {
			p.log.Debug("plugin fell behind; the feed lapped it; sending a fresh snapshot")
			p.stats.resyncs.Add(1)
			p.startSnapshot(p.sub.Resync())
			continue
		}
		p.events, p.ei = evs, 0
		// Drop events of groups the plugin did not subscribe to.
		kept := p.events[:0]
		for _, e := range p.events {
			if p.filter(e.Group) {
				kept = append(kept, e)
			}
		}
		p.events = kept
		if p.merge != nil {
			p.events = p.merge.events(p.events)
		}
		if len(p.events) == 0 {
			return nil
		}
	}
}

func (p *pump) send(req *outputv1.StreamRequest, watchdog *time.Timer) error {
	p.seq++
	req.Seq = p.seq
	p.lastSend = time.Now()
	p.prog.step(p.lastSend, p.hang)
	watchdog.Reset(p.hang)
	err := p.stream.Send(req)
	watchdog.Stop()
	if err != nil {
		if p.hung.Load() {
			return fmt.Errorf("%w: message %d not taken within hang timeout %v", ErrHung, p.seq, p.hang)
		}
		return fmt.Errorf("%w: send message %d: %w", ErrDisconnected, p.seq, err)
	}
	p.stats.messages.Add(1)
	return nil
}

func (p *pump) ack(a uint64) error {
	if a > p.seq {
		return fmt.Errorf("%w: acknowledged message %d, only %d sent", ErrProtocol, a, p.seq)
	}
	if a > p.acked {
		p.acked = a
	}
	return nil
}

// isHang reports whether err means the plugin hung.
func isHang(err error) bool { return errors.Is(err, ErrHung) }
