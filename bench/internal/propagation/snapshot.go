package propagation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/listener"
	"github.com/rgap-project/rgap/bench/internal/listenerlog"
	"github.com/rgap-project/rgap/bench/internal/propagation/record"
	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// goalSnapshot is the snapshot goal: a group of -members reaches a newly
// started plugin, from its process start to the complete mirror.
const goalSnapshot = 250 * time.Millisecond

// Bounds of the snapshot measurement's steps.
const (
	fillWait    = 3 * time.Second  // the first plugin holds every member after a fill pass
	fillPasses  = 3                // fill passes before giving up
	restartWait = 20 * time.Second // a killed plugin's replacement holds every member
)

// msgRestarting is the plugin host's log line when a plugin failed and is
// restarted after a backoff.
const msgRestarting = "output plugin failed; restarting"

// errIncomplete marks a restarted plugin whose first snapshot lacked members.
var errIncomplete = errors.New("first snapshot incomplete")

// snapshotOptions are the settings of the snapshot measurement.
type snapshotOptions struct {
	rounds   int
	members  int
	fillRate int // datagrams per second of the fill
}

// snapshotRound is one restart of the plugin.
type snapshotRound struct {
	Round int
	// PID is the restarted plugin process.
	PID int
	// Members is what its first snapshot held.
	Members int
	// Fork is from the SIGKILL to the new process's creation (it holds
	// the host's Backoff, read from its log; 0 when unknown), Start from
	// then to the complete mirror: the goal's measure. The fork time comes
	// from /proc in 10 ms ticks, truncated down, so Start reads up to
	// 10 ms long.
	Fork, Start, Backoff time.Duration
	// Heap is the new plugin's live heap at the complete mirror, when its
	// spec asked for it (scale), else 0.
	Heap int64
}

// snapshotRun is the whole snapshot measurement.
type snapshotRun struct {
	Members    int
	FillPasses int
	FillTime   time.Duration // from the first datagram to the first plugin holding every member
	Rounds     []snapshotRound
	Totals     listenerlog.Totals
	SizeErrors []string
}

// measureSnapshots fills a listener's group, then kills its plugin
// opts.rounds times and times each replacement's first snapshot.
func measureSnapshots(ctx context.Context, b *bench, opts snapshotOptions) (snapshotRun, error) {
	run := snapshotRun{Members: opts.members}
	if opts.members < 1 || opts.members > maxAddresses {
		return run, fmt.Errorf("-members %d: want 1..%d", opts.members, maxAddresses)
	}
	l, err := b.startSnapshots(ctx, "snapshot", opts.members, false)
	if err != nil {
		return run, err
	}
	defer l.Kill()
	if run.FillPasses, run.FillTime, err = b.fill(ctx, l, time.Now(), opts.fillRate); err != nil {
		return run, err
	}
	if run.Rounds, err = b.restarts(ctx, l, opts.rounds); err != nil {
		return run, err
	}
	run.Totals, run.SizeErrors, err = b.stopListener(ctx, l.Run)
	return run, err
}

// snapshotListener is a listener whose plugin runs in snapshot mode,
// expecting members; first is the first plugin's first record.
type snapshotListener struct {
	*listener.Run
	members int
	first   record.Snapshot
}

// startSnapshots starts a listener whose plugin expects members (with heap,
// noting its live heap in each record) and waits for the empty plugin's
// first record.
func (b *bench) startSnapshots(ctx context.Context, name string, members int, heap bool) (*snapshotListener, error) {
	l, err := b.startListener(ctx, name, "mode: snapshot", "expect: "+strconv.Itoa(members), "heap: "+strconv.FormatBool(heap))
	if err != nil {
		return nil, err
	}
	first, err := waitRecord(ctx, l, fillWait, func(s record.Snapshot) bool { return s.Kind == record.FirstSnapshot })
	if err != nil {
		l.Kill()
		return nil, err
	}
	return &snapshotListener{Run: l, members: members, first: first}, nil
}

// member is the i-th member of b's listener: address i, the groups taken
// in turn.
func (b *bench) member(i int) (uint64, netip.Addr) {
	return traffic.Group + uint64(i%max(b.groups, 1)), traffic.Addr(i)
}

// fill announces every member of l, stamped at, until the running plugin
// reports holding them all; a pass that lost datagrams (socket overflow)
// is repeated, and the repeated announcements only refresh the members
// already there. It returns the passes sent and the time to the full
// mirror.
func (b *bench) fill(ctx context.Context, l *snapshotListener, at time.Time, rate int) (int, time.Duration, error) {
	_, _ = fmt.Fprintf(b.progress, "plugin %d running; filling %d members in %d group(s)\n", l.first.PID, l.members, max(b.groups, 1))
	signer, err := traffic.NewSigner(traffic.PSK, 1)
	if err != nil {
		return 0, 0, err
	}
	dgrams := signer.Sign(l.members, at, 0, b.member)
	conn, err := l.Dial()
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = conn.Close() }()
	start := time.Now()
	for pass := 1; pass <= fillPasses; pass++ {
		if _, err := traffic.Send(ctx, conn, dgrams, traffic.Options{Rate: uint64(rate)}); err != nil {
			return pass, 0, l.Failure(err)
		}
		if _, err := waitRecord(ctx, l.Run, fillWait, func(s record.Snapshot) bool { return s.Kind == record.Complete }); err == nil {
			return pass, time.Since(start), nil
		}
		if err := cmp.Or(ctx.Err(), l.Running()); err != nil {
			return pass, 0, err
		}
		_, _ = fmt.Fprintf(b.progress, "fill pass %d: the plugin does not hold every member yet; sending again\n", pass)
	}
	return fillPasses, 0, l.Failure(fmt.Errorf("the plugin did not report holding %d members after %d fill passes", len(dgrams), fillPasses))
}

// restarts kills l's plugin rounds times, each time its latest
// replacement, and times every replacement.
func (b *bench) restarts(ctx context.Context, l *snapshotListener, rounds int) ([]snapshotRound, error) {
	known := map[int]bool{l.first.PID: true}
	current := l.first.PID
	var rs []snapshotRound
	for round := 1; round <= rounds; round++ {
		r, err := b.restart(ctx, l, round, current, known)
		if err != nil {
			return rs, fmt.Errorf("snapshot round %d: %w", round, err)
		}
		_, _ = fmt.Fprintf(b.progress, "snapshot round %d: plugin %d: %d members, start -> complete %v\n", round, r.PID, r.Members, r.Start)
		rs = append(rs, r)
		known[r.PID], current = true, r.PID
	}
	return rs, nil
}

// restart SIGKILLs the plugin process pid and waits for its replacement
// (a PID not in known) to report a complete mirror.
func (b *bench) restart(ctx context.Context, l *snapshotListener, round, pid int, known map[int]bool) (snapshotRound, error) {
	r := snapshotRound{Round: round}
	if err := checkPluginProcess(pid, l.PID(), b.plugin); err != nil {
		return r, err
	}
	lines, _ := l.Stderr.Snapshot()
	logged := len(lines)
	killAt := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return r, fmt.Errorf("kill plugin %d: %w", pid, err)
	}
	done, err := waitRecord(ctx, l.Run, restartWait, func(s record.Snapshot) bool { return s.Kind == record.Complete && !known[s.PID] })
	if err != nil {
		return r, fmt.Errorf("after killing plugin %d: %w", pid, err)
	}
	// A mirror completed through a snapshot was completed by the
	// process's first one (record.Snapshot.ViaSnapshot).
	r.PID, r.Members, r.Heap = done.PID, done.Members, done.Heap
	if !done.ViaSnapshot {
		return r, fmt.Errorf("plugin %d: %w: joins after it completed the mirror of %d members", done.PID, errIncomplete, l.members)
	}
	if done.Forked == 0 {
		return r, fmt.Errorf("plugin %d: its start time could not be read from /proc", done.PID)
	}
	// The host's failure line for this kill, when it was logged already.
	lines, _ = l.Stderr.Snapshot()
	for _, s := range lines[logged:] {
		if ll, ok := listenerlog.Parse(s); ok && ll.Message == msgRestarting {
			r.Backoff, _ = time.ParseDuration(ll.Str("backoff")) // logged as text ("1.2s"); 0 if not
			break
		}
	}
	r.Fork, r.Start = time.Duration(done.Forked-killAt.UnixNano()), time.Duration(done.At-done.Forked)
	return r, nil
}

// waitRecord waits until the listener relayed a snapshot record of its
// plugin that satisfies match, and returns it.
func waitRecord(ctx context.Context, l *listener.Run, timeout time.Duration, match func(record.Snapshot) bool) (record.Snapshot, error) {
	var found record.Snapshot
	_, err := l.WaitLine(ctx, l.Stderr, timeout, "the plugin's snapshot record", listenerlog.Matching(func(ll listenerlog.Line) bool {
		if ll.Message != record.MsgSnapshot {
			return false
		}
		recs, err := record.Parse[record.Snapshot]([]byte(ll.Str("record") + "\n"))
		if err != nil || !match(recs[0]) {
			return false
		}
		found = recs[0]
		return true
	}))
	return found, err
}

// snapshotVerdict is the outcome of the snapshot measurement.
type snapshotVerdict struct {
	StartToComplete harness.Spread // milliseconds, over rounds
	timePass        bool
	sizePass        bool
	fillPass        bool
}

func (v snapshotVerdict) pass() bool { return v.timePass && v.sizePass && v.fillPass }

func evaluateSnapshots(run snapshotRun) snapshotVerdict {
	xs := make([]float64, len(run.Rounds))
	for i, r := range run.Rounds {
		xs[i] = harness.Millis(r.Start)
	}
	v := snapshotVerdict{StartToComplete: harness.Summarize(xs)}
	v.timePass = len(xs) > 0 && v.StartToComplete.Median <= harness.Millis(goalSnapshot)
	v.sizePass = len(run.SizeErrors) == 0
	v.fillPass = run.Totals.Joined == uint64(run.Members) && run.Totals.DroppedTotal() == 0
	return v
}

// snapshotColumns are the numeric columns of the snapshot table.
var snapshotColumns = []harness.Column[snapshotRound]{
	harness.Col("members", func(r snapshotRound) float64 { return float64(r.Members) }, harness.Count),
	harness.Col("backoff_ms", func(r snapshotRound) float64 { return harness.Millis(r.Backoff) }, harness.Fixed(0)),
	harness.Col("kill>fork_ms", func(r snapshotRound) float64 { return harness.Millis(r.Fork) }, harness.Fixed(1)),
	harness.Col("START>COMPLETE_ms", func(r snapshotRound) float64 { return harness.Millis(r.Start) }, harness.Fixed(1)),
}

// writeSnapshotReport prints every restart, the spread over rounds and the
// verdict.
func writeSnapshotReport(out io.Writer, rgap string, opts snapshotOptions, run snapshotRun, v snapshotVerdict) error {
	w := harness.NewWriter(out)
	w.Printf("2. snapshot: a group of %s members reaches a newly started plugin; %d restarts (SIGKILL, the host restarts it with a fresh snapshot)\n",
		harness.Count(float64(opts.members)), opts.rounds)
	w.Printf("   %s listener, group filled in %s ms (%d pass(es) at <= %s datagrams/s); out-of-tree rgap-plugin-%s in snapshot mode\n\n",
		rgap, harness.Fixed(0)(harness.Millis(run.FillTime)), run.FillPasses, harness.Count(float64(opts.fillRate)), pluginKind)
	harness.RoundsTable(w, []string{"round", "pid"}, snapshotColumns, run.Rounds,
		func(r snapshotRound) []string { return []string{strconv.Itoa(r.Round), strconv.Itoa(r.PID)} },
		[]string{"-"}, func(snapshotRound) string { return "-" })
	w.Println("\nkill>fork = SIGKILL -> the kernel created the new plugin process (holds the host's backoff); START>COMPLETE = then ->")
	w.Println("its mirror held every member (handshake, Configure, snapshot sent and applied, all joins handed to the handler), the")
	w.Println("goal's measure; the fork time comes from /proc/<pid>/stat in 10 ms ticks, truncated down, so it reads up to 10 ms long.")
	w.Printf("listener totals: %s accepted (%s joined), %s dropped\n",
		harness.Count(float64(run.Totals.Accepted)), harness.Count(float64(run.Totals.Joined)), harness.Count(float64(run.Totals.DroppedTotal())))
	for i, l := range run.SizeErrors {
		if i == 5 {
			w.Printf("  ... and %d more\n", len(run.SizeErrors)-5)
			break
		}
		w.Printf("  message-size error: %s\n", l)
	}
	w.Printf("goal snapshot: process start -> complete %s-member mirror, median over restarts %s ms (min %s, max %s), goal <= %s ms: %s\n",
		harness.Count(float64(opts.members)), harness.Fixed(1)(v.StartToComplete.Median), harness.Fixed(1)(v.StartToComplete.Min), harness.Fixed(1)(v.StartToComplete.Max),
		harness.Fixed(0)(harness.Millis(goalSnapshot)), harness.PassFail(v.timePass))
	w.Printf("goal size:     listener log lines reporting a gRPC message-size error (ResourceExhausted, \"larger than max\"): %d, goal 0: %s\n",
		len(run.SizeErrors), harness.PassFail(v.sizePass))
	w.Printf("check fill:    the listener joined %s of %s members and dropped %s datagrams: %s\n",
		harness.Count(float64(run.Totals.Joined)), harness.Count(float64(run.Members)), harness.Count(float64(run.Totals.DroppedTotal())), harness.PassFail(v.fillPass))
	return w.Err()
}
