package group

import (
	"reflect"
	"testing"
	"time"
)

// savedRun is the state a listener saves on its way down: group 1 (expire
// 10s, clock skew 5s) with a live v2 member 192.0.2.1:80 last announced at
// t0, a live v1 member 192.0.2.3 last announced at t0-1s, and
// 192.0.2.2:80, which left at t0-1s after announcing at t0-2s.
func savedRun(t *testing.T) []GroupSnapshot {
	t.Helper()
	r := mustNew(t, []Config{{ID: 1, Expire: 10 * time.Second, ClockSkew: 5 * time.Second}}, Options{Clock: NewFakeClock(t0)})
	for _, a := range []Announcement{
		v2("192.0.2.1", 80, 5, t0.Add(-time.Second)),
		v2("192.0.2.1", 80, 5, t0),
		v2("192.0.2.2", 80, 1, t0.Add(-2*time.Second)),
		leaveOf("192.0.2.2", 80, t0.Add(-time.Second)),
		{Addr: addr("192.0.2.3"), Timestamp: t0.Add(-time.Second)},
	} {
		mustApply(t, r, 1, a, t0)
	}
	return r.StateSnapshot(nil)
}

// TestStateSnapshotHasMarks: the state to save holds every live member's
// mark and the marks kept after a leave, with when they are forgotten
// (2×clock_skew after the leave), sorted like members; Snapshot has none.
func TestStateSnapshotHasMarks(t *testing.T) {
	snap := savedRun(t)
	want := []Mark{
		{Addr: addr("192.0.2.1"), Port: 80, Timestamp: t0},
		{Addr: addr("192.0.2.2"), Port: 80, Timestamp: t0.Add(-time.Second), Until: t0.Add(10 * time.Second)},
		{Addr: addr("192.0.2.3"), Timestamp: t0.Add(-time.Second)},
	}
	if got := findGroup(t, snap, 1).Marks; !reflect.DeepEqual(got, want) {
		t.Errorf("marks:\n got %+v\nwant %+v", got, want)
	}
	r := mustNew(t, []Config{{ID: 1, Expire: 10 * time.Second}}, Options{Clock: NewFakeClock(t0)})
	mustApply(t, r, 1, v2("192.0.2.1", 80, 5, t0), t0)
	if got := findGroup(t, r.Snapshot(nil), 1).Marks; got != nil {
		t.Errorf("Snapshot has marks %+v, want none", got)
	}
}

// TestRestoreKeepsReplayMarks: after a restart from the saved state, a
// captured announcement of the member that left is still a replay, and so
// is one not newer than a live member's latest, while newer ones are
// taken as before the restart.
func TestRestoreKeepsReplayMarks(t *testing.T) {
	now := t0.Add(time.Second)
	tests := []struct {
		name   string
		expire time.Duration // the restarted listener's
		a      Announcement
		want   Result
	}{
		{"captured before the leave", 10 * time.Second, v2("192.0.2.2", 80, 1, t0.Add(-2*time.Second)), Replayed},
		{"the leave itself again", 10 * time.Second, leaveOf("192.0.2.2", 80, t0.Add(-time.Second)), Replayed},
		{"newer than the leave", 10 * time.Second, v2("192.0.2.2", 80, 1, now), Joined},
		{"live member's latest again", 10 * time.Second, v2("192.0.2.1", 80, 5, t0), Replayed},
		{"live member, older", 10 * time.Second, v2("192.0.2.1", 80, 5, t0.Add(-time.Second)), Replayed},
		{"live member, newer", 10 * time.Second, v2("192.0.2.1", 80, 5, now), Refreshed},
		{"v1 duplicate", 10 * time.Second, Announcement{Addr: addr("192.0.2.3"), Timestamp: t0.Add(-time.Second)}, Replayed},
		// With a shorter expire the mark is not guessed from the expiry
		// (which would put it at t0+1s): a newer announcement that
		// moves nothing is outdated, not counted as a replay.
		{"shorter expire, live member newer", 5 * time.Second, v2("192.0.2.1", 80, 5, t0.Add(500*time.Millisecond)), Outdated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, []Config{{ID: 1, Expire: tt.expire, ClockSkew: 5 * time.Second}}, Options{Clock: NewFakeClock(now)})
			res, err := r.Restore(savedRun(t))
			if err != nil {
				t.Fatal(err)
			}
			if res.Members != 2 || res.LeftMarks != 1 {
				t.Fatalf("Restore = %+v, want 2 members and 1 left mark", res)
			}
			if got := mustApply(t, r, 1, tt.a, now); got != tt.want {
				t.Errorf("Apply(%+v) after the restore = %v, want %v", tt.a, got, tt.want)
			}
		})
	}
}

// TestRestoreLeftMarkDue: a saved mark of a member that left is dropped
// once due (its Until, or its timestamp plus the clock skew if later), and
// kept until then.
func TestRestoreLeftMarkDue(t *testing.T) {
	tests := []struct {
		name  string
		now   time.Time
		skew  time.Duration
		marks int
	}{
		{"before its until", t0.Add(9 * time.Second), 5 * time.Second, 1},
		{"at its until", t0.Add(10 * time.Second), 5 * time.Second, 0},
		{"past its until, within a longer skew", t0.Add(12 * time.Second), 20 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, []Config{{ID: 1, Expire: time.Minute, ClockSkew: tt.skew}}, Options{Clock: NewFakeClock(tt.now)})
			res, err := r.Restore(savedRun(t))
			if err != nil {
				t.Fatal(err)
			}
			if res.LeftMarks != tt.marks || r.LeftMarks() != tt.marks {
				t.Errorf("left marks restored %d, held %d, want %d", res.LeftMarks, r.LeftMarks(), tt.marks)
			}
		})
	}
}
