package sdktest

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

// groupReader is what a plugin declares for the code that reads groups;
// the fake must satisfy it as *sdk.Mirror does.
type groupReader interface {
	Members(group uint64) []sdk.Member
	Ready(group uint64) bool
	Changed(groups ...uint64) <-chan struct{}
}

var (
	_ groupReader = (*sdk.Mirror)(nil)
	_ groupReader = (*FakeGroups)(nil)
)

func signalled(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestFakeGroupsState(t *testing.T) {
	var g FakeGroups
	if g.Ready(1) || g.Members(1) != nil {
		t.Fatalf("zero FakeGroups: group 1 ready=%v members=%v, want not ready and empty", g.Ready(1), g.Members(1))
	}
	in := []sdk.Member{{Addr: netip.MustParseAddr("10.0.0.2")}, {Addr: netip.MustParseAddr("::ffff:10.0.0.1"), Expires: time.Unix(5, 0)}}
	g.Set(1, true, in...)
	in[0].Addr = netip.MustParseAddr("192.0.2.1") // the fake keeps its own copy
	want := []sdk.Member{{Addr: netip.MustParseAddr("10.0.0.2")}, {Addr: netip.MustParseAddr("::ffff:10.0.0.1"), Expires: time.Unix(5, 0)}}
	if got := g.Members(1); !slices.Equal(got, want) || !g.Ready(1) {
		t.Fatalf("after Set: members %v ready %v, want %v (order and form kept) and ready", got, g.Ready(1), want)
	}
	g.SetReady(1, false)
	if got := g.Members(1); !slices.Equal(got, want) || g.Ready(1) {
		t.Fatalf("after SetReady(false): members %v ready %v, want the members kept and not ready", got, g.Ready(1))
	}
	g.SetAddrs(2, true, "fd00::1", "10.0.0.9")
	want2 := []sdk.Member{{Addr: netip.MustParseAddr("fd00::1")}, {Addr: netip.MustParseAddr("10.0.0.9")}}
	if got := g.Members(2); !slices.Equal(got, want2) || !g.Ready(2) {
		t.Fatalf("after SetAddrs: members %v ready %v, want %v and ready", got, g.Ready(2), want2)
	}
	if got := g.Members(1); !slices.Equal(got, want) {
		t.Fatalf("SetAddrs of group 2 changed group 1 to %v", got)
	}
	g.Set(1, true)
	if got := g.Members(1); len(got) != 0 {
		t.Fatalf("after Set with no members: %v, want none", got)
	}
}

func TestFakeGroupsChanged(t *testing.T) {
	var g FakeGroups
	early := g.Changed(1)
	g.Set(1, true) // before the later channels exist: only early sees it
	one, every := g.Changed(1), g.Changed()
	if !signalled(early) || signalled(one) || signalled(every) {
		t.Fatal("a change before Changed was called reached the new channels, or missed the earlier one")
	}
	g.SetAddrs(2, true, "10.0.0.1")
	if signalled(one) || !signalled(every) {
		t.Fatal("a change of group 2: want only the channel for every group signalled")
	}
	g.Set(1, true)
	g.Set(1, true) // a burst collapses into one pending value
	if !signalled(one) || signalled(one) || !signalled(every) {
		t.Fatal("two unchanged Sets of group 1: want one pending signal each, although nothing changed")
	}
	g.SetReady(1, false)
	if !signalled(one) {
		t.Fatal("SetReady did not signal")
	}
}

// TestFakeGroupsConcurrent is for -race: a reader loop like a plugin's Run
// against a writing test.
func TestFakeGroupsConcurrent(t *testing.T) {
	var g FakeGroups
	ch := g.Changed(1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 100 {
			g.SetAddrs(1, true, "10.0.0.1")
		}
		g.SetReady(1, false)
	}()
	deadline := time.After(Timeout)
	for g.Ready(1) || len(g.Members(1)) == 0 {
		select {
		case <-ch:
		case <-deadline:
			t.Fatal("the final SetReady(false) was not seen")
		}
	}
	wg.Wait()
}
