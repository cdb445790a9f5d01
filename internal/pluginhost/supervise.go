package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// supervisor keeps one output's plugin running: launch, Configure, stream,
// and on any failure a bounded shutdown and a restart after an exponential
// backoff. go-plugin clients cannot be restarted, so every attempt is a new
// client and a new process.
type supervisor struct {
	h     *Host
	feed  Feed
	stats *outputStats
	prog  *progress // nil in tests that build a supervisor by hand
	log   hclog.Logger

	// mu guards what Update changes while the supervisor runs (see
	// update.go): the output's labels, the group list for the next
	// Configure, and the current process's subscription.
	mu        sync.Mutex
	out       Output
	groups    []GroupInfo
	sub       *subscribed        // the current process's subscription; nil until configured
	endProc   context.CancelFunc // ends the current process; nil between processes
	regrouped bool               // the current process was ended for a new group list
	// updates takes new group lists to the current process while it runs,
	// when it declared CAPABILITY_GROUP_UPDATES; nil otherwise.
	updates *groupUpdates
}

func (h *Host) outputLog(o *Output) hclog.Logger {
	return h.opts.Logger.Named("output").With("output", o.Index, "kind", o.Kind)
}

func (s *supervisor) run(ctx context.Context) {
	defer s.prog.done()
	opts := &s.h.opts
	out := s.output()
	tgt, err := s.h.resolve(out.Kind, out.SHA256)
	if err != nil {
		// A bad kind or pin cannot heal by retrying.
		err = outputErr(&out, err)
		s.stats.setErr(err)
		s.log.Error("output not started", "error", err)
		return
	}
	backoff := opts.RestartMin
	failures := 0
	for {
		began := time.Now()
		err := s.once(ctx, tgt)
		s.stats.running.Store(false)
		s.stats.pid.Store(0)
		if ctx.Err() != nil {
			return
		}
		if s.takeRegrouped() {
			// Not a failure: Update ended the plugin because the groups
			// it knows changed (see update.go). Its replacement starts at
			// once and is configured with the new list.
			continue
		}
		if time.Since(began) >= opts.HealthyAfter {
			backoff, failures = opts.RestartMin, 0
		}
		failures++
		s.stats.failures.Store(int64(failures))
		s.stats.setErr(err)
		if isHang(err) {
			s.stats.hung.Add(1)
		}
		s.log.Error("output plugin failed; restarting", "error", err,
			"consecutive_failures", failures, "backoff", backoff)
		s.prog.step(time.Now(), backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, opts.RestartMax)
		s.stats.restarts.Add(1)
	}
}

// once runs one plugin process from launch to shutdown. Update can end it
// early through endProc.
func (s *supervisor) once(ctx context.Context, tgt target) (err error) {
	ctx, end := context.WithCancel(ctx)
	defer end()
	s.setProc(end)
	defer s.setProc(nil)
	s.stats.starts.Add(1)
	s.prog.step(time.Now(), s.h.opts.launchBound())
	in, err := s.h.launch(ctx, tgt, s.log)
	if err != nil {
		return err
	}
	s.stats.pid.Store(int64(in.proc.Pid()))
	graceful := true
	defer func() {
		s.prog.step(time.Now(), s.h.opts.shutdownBound())
		in.shutdown(graceful)
		if errors.Is(err, ErrDisconnected) {
			err = in.exitError(err)
		}
	}()
	var updates *groupUpdates
	if in.hasCapability(outputv1.Capability_CAPABILITY_GROUP_UPDATES) {
		updates = newGroupUpdates()
	}
	filter, err := s.configure(ctx, in, updates)
	if err != nil {
		return err
	}
	s.stats.running.Store(true)
	s.stats.client.Store(&metricsClient{rpc: in.rpc})
	defer s.stats.client.Store(nil)
	s.prog.configured()
	s.log.Debug("output plugin running", "pid", in.proc.Pid(), "version", in.info.GetPluginVersion())
	sub := s.feed.Subscribe(filter)
	defer sub.Close()
	out := s.output()
	hang, heartbeat := s.h.opts.streamTimes(&out)
	p := &pump{
		opts:      &s.h.opts,
		hang:      hang,
		heartbeat: heartbeat,
		log:       s.log,
		stats:     s.stats,
		prog:      s.prog,
		sub:       sub,
		filter:    filter,
		expiry:    in.hasCapability(outputv1.Capability_CAPABILITY_EXPIRY_UPDATES),
		version:   in.version,
		updates:   updates,
	}
	err = p.run(ctx, in.rpc)
	if err != nil {
		// A hung or broken plugin gets no Stop call that could only time out.
		graceful = false
	}
	return err
}

// configure sends Configure and turns the plugin's subscription into a
// filter. A subscription to a group that is not configured is an error
// naming the group: the plugin would otherwise wait forever for it.
// updates, when not nil, is where Update posts new group lists from then on.
func (s *supervisor) configure(ctx context.Context, in *instance, updates *groupUpdates) (func(uint64) bool, error) {
	s.mu.Lock()
	out, groups := s.out, s.groups
	s.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, s.h.opts.CallTimeout)
	defer cancel()
	resp, err := in.rpc.Configure(cctx, &outputv1.ConfigureRequest{Spec: specOf(&out), Groups: groupsOf(groups)})
	if err != nil {
		return nil, fmt.Errorf("Configure: %w", err)
	}
	if d := resp.GetDiagnostics(); len(d) > 0 {
		e := outputErr(&out, ErrInvalidSpec)
		e.Diagnostics = diagsOf(d)
		return nil, e
	}
	sub := &subscribed{all: resp.GetAllGroups(), groups: groups}
	if !sub.all {
		known := make(map[uint64]bool, len(groups))
		for _, g := range groups {
			known[g.ID] = true
		}
		sub.ids = make(map[uint64]bool, len(resp.GetGroups()))
		for _, id := range resp.GetGroups() {
			if !known[id] {
				return nil, fmt.Errorf("%w: the plugin subscribed to group %d, which the configuration does not define", ErrUnknownGroup, id)
			}
			sub.ids[id] = true
		}
	}
	s.mu.Lock()
	s.sub, s.updates = sub, updates
	s.mu.Unlock()
	return sub.wants, nil
}

// exitError adds to err, a lost connection, how the plugin process ended
// and the last error it logged: the one line the host logs per failure
// then says why (a plugin that cannot bind its port logs that and exits).
func (in *instance) exitError(err error) error {
	var notes []string
	if st := in.proc.exitStatus(); st != "" {
		notes = append(notes, "plugin "+st)
	}
	if last := in.stderr.LastError(); last != "" {
		notes = append(notes, "its last error: "+last)
	}
	if len(notes) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(notes, "; "))
}
