package etcd

import (
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// TestWeightChangeRewritesKey: a member that stays live and announces a new
// weight (a protocol-2 agent restarted with another --weight) gets its key
// rewritten with the new weight, in both layouts; a member whose expiry
// merely moves is not written again (no put per announcement). The host
// delivers a weight change only as an expiry update, sent only to plugins
// that ask for them: the harness models that.
func TestWeightChangeRewritesKey(t *testing.T) {
	for _, tc := range []struct {
		layout, spec, keyA, keyB, before, after string
	}{
		{"rgap", "", "/rgap/groups/7/members/lb1/10.0.0.1:8080", "/rgap/groups/7/members/lb1/10.0.0.2:8080",
			`{"address":"10.0.0.1","port":8080,"weight":10,"expires":"2030-01-02T03:04:05Z"}`,
			`{"address":"10.0.0.1","port":8080,"weight":20,"expires":"2030-01-02T03:04:07Z"}`},
		{"skydns", "prefix: /skydns/\nlayout: skydns\nmappings:\n  app.example.com: {group: 7}\n",
			"/skydns/com/example/app/lb1-10.0.0.1:8080", "/skydns/com/example/app/lb1-10.0.0.2:8080",
			`{"host":"10.0.0.1","port":8080,"weight":10,"ttl":10}`,
			`{"host":"10.0.0.1","port":8080,"weight":20,"ttl":10}`},
	} {
		t.Run(tc.layout, func(t *testing.T) {
			f := newFixture(t)
			h := f.start(t, "lb1", tc.spec, 7)
			exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			a := sdk.Member{Addr: addr("10.0.0.1"), Port: 8080, Weight: 10, Expires: exp}
			b := sdk.Member{Addr: addr("10.0.0.2"), Port: 8080, Weight: 5, Expires: exp}
			h.JoinMember(7, a)
			h.JoinMember(7, b)
			h.Ready(7)
			h.Sync()
			var valueB string
			sdktest.Eventually(t, tc.keyA+" with weight 10", func() bool {
				valueB = f.value(t, tc.keyB)
				return f.value(t, tc.keyA) == tc.before && valueB != ""
			})
			// The counter moves just after etcd has answered, so a key can
			// be visible before its put is counted: read it once settled.
			puts := settledPuts(t, h)

			// b is announced again (its expiry moves), then a changes its
			// weight. Events are handled in order: had b's update been
			// written, it would be visible once a's is.
			b.Expires = exp.Add(time.Second)
			h.UpdateMember(7, b)
			a.Weight, a.Expires = 20, exp.Add(2*time.Second)
			h.UpdateMember(7, a)
			h.Sync()
			sdktest.Eventually(t, tc.keyA+" with weight 20", func() bool {
				return f.value(t, tc.keyA) == tc.after
			})
			if got := f.value(t, tc.keyB); got != valueB {
				t.Errorf("%s rewritten after a mere expiry move: %s, was %s", tc.keyB, got, valueB)
			}
			if got := settledPuts(t, h) - puts; got != 1 {
				t.Errorf("%v keys put for one weight change, want 1", got)
			}
		})
	}
}

// settledPuts is the put counter once it has not moved for 300ms (at most
// 10s), so that writes already made are all counted.
func settledPuts(t *testing.T, h *sdktest.Harness) float64 {
	t.Helper()
	last := h.Metrics()[`keys_written_total{op="put"}`]
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		now := h.Metrics()[`keys_written_total{op="put"}`]
		if now == last {
			return now
		}
		last = now
	}
	t.Fatal("the put counter kept moving for 10s")
	return 0
}
