package group

import (
	"fmt"
	"testing"
)

// TestNames: events and results print by name in logs and test failures,
// and a value without a name prints as its type and number.
func TestNames(t *testing.T) {
	for _, tc := range []struct {
		v    fmt.Stringer
		want string
	}{
		{Join, "join"}, {Leave, "leave"}, {Expiry, "expiry"}, {Ready, "ready"},
		{EventKind(0), "EventKind(0)"}, {EventKind(5), "EventKind(5)"}, {EventKind(-1), "EventKind(-1)"},
		{Joined, "joined"}, {Refreshed, "refreshed"}, {Outdated, "outdated"},
		{Stale, "stale"}, {Replayed, "replayed"}, {Left, "left"},
		{Result(0), "Result(0)"}, {Result(7), "Result(7)"}, {Result(-2), "Result(-2)"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
