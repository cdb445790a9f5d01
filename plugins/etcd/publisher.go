package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Timings of the publisher.
const (
	// maxTxnOps is how many puts and deletes one transaction carries: etcd's
	// default --max-txn-ops.
	maxTxnOps = 128
	// requestTimeout bounds one request to etcd.
	requestTimeout = 2 * time.Second
	// retryMin and retryMax bound the backoff while etcd is unreachable.
	retryMin = 200 * time.Millisecond
	retryMax = 5 * time.Second
	// revokeTimeout bounds the lease revocation when the output stops.
	revokeTimeout = 2 * time.Second
)

// groupSource is the part of *sdk.Mirror the publisher uses.
type groupSource interface {
	Members(group uint64) []sdk.Member
	Ready(group uint64) bool
	OnEvent(fn func(sdk.Event)) (cancel func())
}

// retryRefused is the wait after etcd refused the credentials or the
// permission, or a local file (password, certificate) could not be read: an
// operator has to act, so retrying fast only fills the log. A variable for
// the tests.
var retryRefused = 30 * time.Second

// op is one pending change of a key: a put of value, or a delete.
type op struct {
	value string
	del   bool
}

// errLocal marks a failure to read a local file the connection needs.
var errLocal = errors.New("local configuration")

// publisher keeps this instance's keys in etcd equal to the mirror: events
// become pending puts and deletes (the latest per key wins) that one worker
// sends in transactions, and a full reconcile (read own keys, diff with the
// mirror) runs at start, after any failure and after a resync.
type publisher struct {
	set *settings
	lay layout
	src groupSource
	log hclog.Logger

	mu      sync.Mutex
	pending map[string]op
	// weights is the weight written (or pending) for each member key, so
	// that an expiry update is written only when it carries a new weight.
	weights map[string]uint16
	full    bool     // a full reconcile is due
	groups  []uint64 // the groups published
	wake    chan struct{}

	// counters, exported as metrics
	txns, ranges, grants, revokes atomic.Uint64
	puts, deletes, reconciles     atomic.Uint64
	unreachable, refused          atomic.Uint64
	connected                     atomic.Bool
}

func newPublisher(s *settings, groups []uint64, src groupSource, log hclog.Logger) *publisher {
	return &publisher{
		set: s, lay: newLayout(s), src: src, log: log,
		pending: map[string]op{}, weights: map[string]uint16{}, full: true, groups: groups,
		wake: make(chan struct{}, 1),
	}
}

// setGroups replaces the list of published groups (a listener reload) and
// schedules a full reconcile.
func (p *publisher) setGroups(groups []uint64) {
	p.mu.Lock()
	p.groups = groups
	p.full = true
	p.mu.Unlock()
	p.signal()
}

func (p *publisher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// onEvent turns an event into pending changes. It runs on the SDK's stream
// goroutine and never waits for etcd. An expiry update (the plugin asks for
// them because a live member's new weight arrives only as one) is written
// only when the weight changed: not one put per announcement.
func (p *publisher) onEvent(e sdk.Event) {
	switch e.Kind {
	case sdk.EventJoin, sdk.EventLeave, sdk.EventExpiry:
		if !p.src.Ready(e.Group) {
			return // published by the reconcile that follows readiness
		}
		var buf [2]kv
		kvs := p.lay.member(buf[:0], e.Group, e.Member)
		if len(kvs) == 0 {
			return
		}
		changed := false
		p.mu.Lock()
		for _, x := range kvs {
			switch e.Kind {
			case sdk.EventLeave:
				delete(p.weights, x.key)
			case sdk.EventExpiry:
				// Unknown: the member was read by a reconcile that has not
				// recorded its weights yet; written again, so a change
				// that raced with that read is not lost.
				if w, ok := p.weights[x.key]; ok && w == e.Member.Weight {
					continue
				}
			}
			if e.Kind != sdk.EventLeave {
				p.weights[x.key] = e.Member.Weight
			}
			p.pending[x.key] = op{value: x.value, del: e.Kind == sdk.EventLeave}
			changed = true
		}
		p.mu.Unlock()
		if !changed {
			return
		}
	case sdk.EventReady, sdk.EventResync:
		p.mu.Lock()
		p.full = true
		p.mu.Unlock()
	default:
		return
	}
	p.signal()
}

// session is one client and the lease its keys are attached to.
type session struct {
	cli      *clientv3.Client
	lease    clientv3.LeaseID
	ka       <-chan *clientv3.LeaseKeepAliveResponse
	kaCancel context.CancelFunc
}

// dropLease forgets the lease (lost, or refused by etcd).
func (s *session) dropLease() {
	if s.kaCancel != nil {
		s.kaCancel()
	}
	s.lease, s.ka, s.kaCancel = 0, nil, nil
}

// drop forgets the client and its lease without revoking it (its keys are
// put again under the next lease, or expire).
func (s *session) drop() {
	s.dropLease()
	if s.cli != nil {
		_ = s.cli.Close() // nothing left to flush
		s.cli = nil
	}
}

// leaseAlive drains the keep-alive responses and reports whether the lease
// is still kept alive.
func (s *session) leaseAlive() bool {
	for {
		select {
		case _, ok := <-s.ka:
			if !ok {
				return false
			}
		default:
			return true
		}
	}
}

// run publishes until ctx ends, then revokes the lease so that the keys
// vanish at once.
func (p *publisher) run(ctx context.Context) error {
	cancel := p.src.OnEvent(p.onEvent)
	defer cancel()
	var s session
	defer p.close(&s)

	var (
		streak     int       // failures in a row
		streakFrom time.Time // first failure of the streak
		delay      = retryMin
	)
	for {
		err := p.step(ctx, &s)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			p.connected.Store(true)
			if streak > 0 {
				p.log.Info("etcd reachable again", "endpoints", p.set.endpoints, "failures", streak,
					"down_for", time.Since(streakFrom).Round(time.Millisecond).String())
				streak, delay = 0, retryMin
			}
			p.idle(ctx, &s)
			continue
		}
		p.connected.Store(false)
		p.mu.Lock()
		p.full = true // reconcile whatever happened meanwhile, once back
		p.mu.Unlock()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			s.dropLease()
		}
		wait := delay
		switch {
		case isAuthError(err) || errors.Is(err, errLocal):
			p.refused.Add(1)
			wait = retryRefused
			// Connect afresh next time, reading the password file again: the
			// operator may have fixed the password or the user meanwhile.
			s.drop()
			p.log.Error("etcd refused the credentials or permission, or a file they need cannot be read; will retry",
				"endpoints", p.set.endpoints, "username", p.set.username, "error", err.Error(), "retry_in", wait.String())
		case streak == 0:
			p.unreachable.Add(1)
			p.log.Warn("etcd unreachable, will retry", "endpoints", p.set.endpoints, "error", err.Error())
		default:
			p.unreachable.Add(1)
			p.log.Debug("etcd still unreachable", "error", err.Error(), "retry_in", wait.String())
		}
		if streak == 0 {
			streakFrom = time.Now()
		}
		streak++
		delay = min(delay*2, retryMax)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// idle waits for something to do: pending changes, a lost lease or the end.
func (p *publisher) idle(ctx context.Context, s *session) {
	p.mu.Lock()
	busy := p.full || len(p.pending) > 0
	p.mu.Unlock()
	if busy {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
			return
		case _, ok := <-s.ka:
			if !ok {
				return // step notices and takes a new lease
			}
		}
	}
}

// step connects when needed, takes a lease when needed, reconciles when due
// and sends the pending changes.
func (p *publisher) step(ctx context.Context, s *session) error {
	if s.cli == nil {
		cfg, err := p.set.clientConfig()
		if err != nil {
			return fmt.Errorf("%w: %w", errLocal, err)
		}
		cli, err := clientv3.New(cfg)
		if err != nil {
			return fmt.Errorf("connecting to %v: %w", p.set.endpoints, err)
		}
		s.cli = cli
	}
	if s.lease != 0 && !s.leaseAlive() {
		if ctx.Err() != nil {
			return ctx.Err() // the keep-alive ended with ctx: the lease is alive, close revokes it
		}
		p.log.Warn("lease expired or lost, publishing again under a new lease", "lease", fmt.Sprintf("%x", int64(s.lease)))
		s.dropLease()
	}
	if s.lease == 0 {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		p.grants.Add(1)
		resp, err := s.cli.Grant(rctx, p.set.leaseTTL)
		cancel()
		if err != nil {
			return fmt.Errorf("granting a lease of %ds: %w", p.set.leaseTTL, err)
		}
		kctx, kcancel := context.WithCancel(ctx)
		ka, err := s.cli.KeepAlive(kctx, resp.ID)
		if err != nil {
			kcancel()
			return fmt.Errorf("keeping lease %x alive: %w", int64(resp.ID), err)
		}
		s.lease, s.ka, s.kaCancel = resp.ID, ka, kcancel
		p.log.Info("lease granted", "lease", fmt.Sprintf("%x", int64(resp.ID)), "ttl_s", resp.TTL, "instance", p.set.instance)
		p.mu.Lock()
		p.full = true
		p.mu.Unlock()
	}
	p.mu.Lock()
	full := p.full
	p.mu.Unlock()
	if full {
		if err := p.reconcile(ctx, s); err != nil {
			return err
		}
	}
	return p.flush(ctx, s)
}

// owned is one of this instance's keys as read from etcd.
type owned struct {
	value string
	lease int64
	group uint64
}

// reconcile makes this instance's keys equal to the mirror in one pass: it
// reads them, then puts what is missing, differs or hangs on another lease,
// and deletes what is not live. Keys of a group that is not ready yet are
// left alone (they are a previous process's, and expire with its lease or
// are taken over once the group is ready).
func (p *publisher) reconcile(ctx context.Context, s *session) error {
	start := time.Now()
	existing := map[string]owned{}
	for _, prefix := range p.lay.scanPrefixes() {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		p.ranges.Add(1)
		resp, err := s.cli.Get(rctx, prefix, clientv3.WithPrefix())
		cancel()
		if err != nil {
			return fmt.Errorf("reading keys under %s: %w", prefix, err)
		}
		for _, x := range resp.Kvs {
			if g, ok := p.lay.owned(string(x.Key)); ok {
				existing[string(x.Key)] = owned{value: string(x.Value), lease: x.Lease, group: g}
			}
		}
	}

	// The pending changes are superseded by the mirror read now.
	p.mu.Lock()
	p.pending = map[string]op{}
	p.full = false
	groups := p.groups
	p.mu.Unlock()
	desired := map[string]string{}
	weights := map[string]uint16{}
	notReady := map[uint64]bool{}
	var kvs []kv
	for _, g := range groups {
		if !p.src.Ready(g) {
			notReady[g] = true
			continue
		}
		kvs = p.lay.ready(kvs[:0], g)
		for _, m := range p.src.Members(g) {
			n := len(kvs)
			kvs = p.lay.member(kvs, g, m)
			for _, x := range kvs[n:] {
				weights[x.key] = m.Weight
			}
		}
		for _, x := range kvs {
			desired[x.key] = x.value
		}
	}
	// An event handled since the read may have its weight replaced by the
	// mirror's older one here: its next expiry update is then written once
	// more, which is harmless.
	p.mu.Lock()
	p.weights = weights
	p.mu.Unlock()

	var ops []clientv3.Op
	kept := 0
	for k, v := range desired {
		if e, ok := existing[k]; ok && e.value == v && e.lease == int64(s.lease) {
			kept++
			continue
		}
		ops = append(ops, clientv3.OpPut(k, v, clientv3.WithLease(s.lease)))
	}
	puts := len(ops)
	for k, e := range existing {
		if _, ok := desired[k]; !ok && !notReady[e.group] {
			ops = append(ops, clientv3.OpDelete(k))
		}
	}
	if err := p.send(ctx, s, ops); err != nil {
		return err
	}
	p.reconciles.Add(1)
	p.log.Info("reconciled keys", "instance", p.set.instance, "put", puts, "deleted", len(ops)-puts,
		"unchanged", kept, "took", time.Since(start).Round(time.Microsecond).String())
	return nil
}

// flush sends the pending changes. On failure they are dropped: the full
// reconcile that follows every failure restores them from the mirror.
func (p *publisher) flush(ctx context.Context, s *session) error {
	p.mu.Lock()
	batch := p.pending
	if len(batch) == 0 {
		p.mu.Unlock()
		return nil
	}
	p.pending = make(map[string]op, len(batch))
	p.mu.Unlock()
	ops := make([]clientv3.Op, 0, len(batch))
	for k, o := range batch {
		if o.del {
			ops = append(ops, clientv3.OpDelete(k))
		} else {
			ops = append(ops, clientv3.OpPut(k, o.value, clientv3.WithLease(s.lease)))
		}
	}
	return p.send(ctx, s, ops)
}

// send applies ops in transactions of at most maxTxnOps.
func (p *publisher) send(ctx context.Context, s *session, ops []clientv3.Op) error {
	for len(ops) > 0 {
		n := min(len(ops), maxTxnOps)
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		p.txns.Add(1)
		_, err := s.cli.Txn(rctx).Then(ops[:n]...).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("writing %d keys in a transaction: %w", n, err)
		}
		for _, o := range ops[:n] {
			if o.IsDelete() {
				p.deletes.Add(1)
			} else {
				p.puts.Add(1)
			}
		}
		p.log.Trace("transaction sent", "ops", n)
		ops = ops[n:]
	}
	return nil
}

// close revokes the lease, so that the keys vanish at once rather than
// after lease_ttl, and closes the client.
func (p *publisher) close(s *session) {
	if s.cli == nil {
		return
	}
	if s.lease != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
		p.revokes.Add(1)
		if _, err := s.cli.Revoke(ctx, s.lease); err != nil {
			p.log.Warn("cannot revoke the lease; its keys vanish after lease_ttl", "lease", fmt.Sprintf("%x", int64(s.lease)),
				"lease_ttl", strconv.FormatInt(p.set.leaseTTL, 10)+"s", "error", err.Error())
		}
		cancel()
	}
	s.drop()
}
