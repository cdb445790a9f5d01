package etcd

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// waitLog waits up to 20s for a log line with message msg.
func waitLog(t *testing.T, h *sdktest.Harness, msg string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range h.Logs() {
			if e.Message == msg {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line %q within 20s", msg)
}

func TestKeysFollowJoinsAndLeaves(t *testing.T) {
	f := newFixture(t)
	w := f.watch(t, "/rgap/")
	h := f.start(t, "lb1", "", 7)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	h.Join(7, addr("10.0.0.1"), exp)
	h.Sync()
	// Not ready: nothing is published.
	time.Sleep(300 * time.Millisecond)
	if keys := f.keys(t, "/rgap/"); len(keys) != 0 {
		t.Fatalf("keys before the group is ready: %v", keys)
	}
	h.Ready(7)
	w.expect(t, "PUT /rgap/groups/7/members/lb1/10.0.0.1", "PUT /rgap/groups/7/ready/lb1")
	h.Join(7, addr("2001:db8::2"), exp)
	w.expect(t, "PUT /rgap/groups/7/members/lb1/2001:db8::2")
	h.Leave(7, addr("10.0.0.1"))
	w.expect(t, "DELETE /rgap/groups/7/members/lb1/10.0.0.1")
	want := `/rgap/groups/7/members/lb1/2001:db8::2={"address":"2001:db8::2","port":0,"weight":0,"expires":"2030-01-02T03:04:05Z"}
/rgap/groups/7/ready/lb1={"ready":true}
`
	if got := f.dump(t, "/rgap/"); got != want {
		t.Errorf("keys:\n%s\nwant:\n%s", got, want)
	}
	// A clean stop revokes the lease: the keys vanish at once.
	h.Stop()
	if keys := f.keys(t, "/rgap/"); len(keys) != 0 {
		t.Errorf("keys after stop: %v", keys)
	}
}

func TestEveryKeyOnOneLease(t *testing.T) {
	f := newFixture(t)
	h := f.start(t, "lb1", "lease_ttl: 3s\n", 7, 8)
	h.Join(7, addr("10.0.0.1"), time.Time{})
	h.Join(8, addr("10.0.0.2"), time.Time{})
	h.Ready(7)
	h.Ready(8)
	h.Sync()
	var resp *clientv3.GetResponse
	sdktest.Eventually(t, "four keys", func() bool {
		var err error
		resp, err = f.cli.Get(context.Background(), "/rgap/", clientv3.WithPrefix())
		return err == nil && len(resp.Kvs) == 4
	})
	lease := resp.Kvs[0].Lease
	for _, kv := range resp.Kvs {
		if kv.Lease != lease || lease == 0 {
			t.Fatalf("key %s on lease %x, want all on one lease (first %x)", kv.Key, kv.Lease, lease)
		}
	}
	ttl, err := f.cli.TimeToLive(context.Background(), clientv3.LeaseID(lease))
	if err != nil || ttl.GrantedTTL != 3 {
		t.Fatalf("lease TTL = %+v, %v; want granted 3s", ttl, err)
	}
	// Kept alive: still there after twice the TTL.
	time.Sleep(6 * time.Second)
	if keys := f.keys(t, "/rgap/"); len(keys) != 4 {
		t.Errorf("after 2×lease_ttl: keys %v, want 4", keys)
	}
}

func TestReconcileOnStart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Left behind by an earlier process of the same instance, and another
	// instance's key that must survive.
	for k, v := range map[string]string{
		"/rgap/groups/7/members/lb1/10.0.0.9": `{"address":"10.0.0.9","port":0,"weight":0}`,
		"/rgap/groups/7/members/lb1/10.0.0.1": `stale`,
		"/rgap/groups/9/members/lb1/10.0.0.5": `{"address":"10.0.0.5","port":0,"weight":0}`,
		"/rgap/groups/7/members/lb2/10.0.0.9": `{"address":"10.0.0.9","port":0,"weight":0}`,
		"/rgap/groups/7/ready/lb2":            readyValue,
		"/rgap/groups/8/members/lb1/10.0.0.8": `{"address":"10.0.0.8","port":0,"weight":0}`,
	} {
		if _, err := f.cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	h := f.start(t, "lb1", "", 7, 8)
	joinReady(h, 7, "10.0.0.1") // group 8 stays not ready: its key is left alone
	want := `/rgap/groups/7/members/lb1/10.0.0.1={"address":"10.0.0.1","port":0,"weight":0}
/rgap/groups/7/members/lb2/10.0.0.9={"address":"10.0.0.9","port":0,"weight":0}
/rgap/groups/7/ready/lb1={"ready":true}
/rgap/groups/7/ready/lb2={"ready":true}
/rgap/groups/8/members/lb1/10.0.0.8={"address":"10.0.0.8","port":0,"weight":0}
`
	sdktest.Eventually(t, "reconciled keys", func() bool { return f.dump(t, "/rgap/") == want })
	resp, err := f.cli.Get(ctx, "/rgap/groups/7/members/lb1/10.0.0.1")
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Errorf("reconciled key not on the output's lease: %v %v", resp, err)
	}
}

func TestEtcdDownThenBack(t *testing.T) {
	f := newFixture(t)
	h := f.start(t, "lb1", "lease_ttl: 3s\n", 7)
	joinReady(h, 7, "10.0.0.1", "10.0.0.2")
	sdktest.Eventually(t, "published", func() bool { return len(f.keys(t, "/rgap/")) == 3 })
	f.srv.Stop()
	stopped := time.Now()
	// While etcd is down the handlers go on without waiting for it.
	start := time.Now()
	h.Leave(7, addr("10.0.0.1"))
	h.Join(7, addr("10.0.0.3"), time.Time{})
	h.Sync()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("events took %v to be acknowledged while etcd was down", d)
	}
	waitLog(t, h, "etcd unreachable, will retry")
	time.Sleep(time.Until(stopped.Add(10 * time.Second))) // down for 10s, over three times lease_ttl
	f.srv.Start()
	f.cli = f.srv.Client() // the old one may be in a long reconnect backoff
	want := "/rgap/groups/7/members/lb1/10.0.0.2\n/rgap/groups/7/members/lb1/10.0.0.3\n/rgap/groups/7/ready/lb1\n"
	// Within the longest backoff (5s) and a request timeout (2s) or so.
	deadline := time.Now().Add(15 * time.Second)
	for got := ""; got != want; got = f.keyList(t, "/rgap/") + "\n" {
		if time.Now().After(deadline) {
			t.Fatalf("15s after etcd came back, keys:\n%s\nwant:\n%s", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitLog(t, h, "etcd reachable again")
}

// TestReloadChangesGroups: with every group published (no groups key), a
// reload that adds a group publishes it and one that removes a group
// deletes its keys.
func TestReloadChangesGroups(t *testing.T) {
	f := newFixture(t)
	h := f.start(t, "lb1", "", 7)
	joinReady(h, 7, "10.0.0.1")
	sdktest.Eventually(t, "group 7", func() bool { return len(f.keys(t, "/rgap/groups/7/")) == 2 })
	m := func(a string) sdk.Member { return sdk.Member{Addr: addr(a)} }
	h.UpdateGroups([]sdk.GroupInfo{{ID: 7}, {ID: 8}},
		sdktest.GroupState{ID: 7, Ready: true, Members: []sdk.Member{m("10.0.0.1")}},
		sdktest.GroupState{ID: 8, Ready: true, Members: []sdk.Member{m("10.0.0.8")}})
	h.Sync()
	want := "/rgap/groups/7/members/lb1/10.0.0.1\n/rgap/groups/7/ready/lb1\n/rgap/groups/8/members/lb1/10.0.0.8\n/rgap/groups/8/ready/lb1"
	sdktest.Eventually(t, "group 8 added", func() bool { return f.keyList(t, "/rgap/") == want })
	h.UpdateGroups([]sdk.GroupInfo{{ID: 8}}, sdktest.GroupState{ID: 8, Ready: true, Members: []sdk.Member{m("10.0.0.8")}})
	h.Sync()
	want = "/rgap/groups/8/members/lb1/10.0.0.8\n/rgap/groups/8/ready/lb1"
	sdktest.Eventually(t, "group 7 removed", func() bool { return f.keyList(t, "/rgap/") == want })
}

// TestREADMEExamples: every example is valid, and those that need neither
// TLS nor a password publish group 1000 to a real etcd.
func TestREADMEExamples(t *testing.T) {
	groups := []sdk.GroupInfo{{ID: 1000}, {ID: 2000}}
	var f *etcdFixture
	for _, spec := range sdktest.CheckExamples(t, Plugin, "README.md", groups...) {
		if strings.Contains(spec, "https://") {
			continue
		}
		if f == nil {
			f = newFixture(t)
		}
		spec = strings.ReplaceAll(spec, "http://127.0.0.1:2379", f.srv.Endpoint())
		h := sdktest.Start(t, Plugin, spec, groups...)
		joinReady(h, 1000, "10.0.0.7")
		prefix := "/rgap/groups/1000/members/lb1/10.0.0.7"
		if strings.Contains(spec, "skydns") {
			prefix = "/skydns/com/example/app/" + hostname() + "-10.0.0.7"
		}
		sdktest.Eventually(t, "key "+prefix, func() bool { return len(f.keys(t, prefix)) == 1 })
		h.Stop()
	}
}

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

func TestSkyDNSAsCoreDNSReadsIt(t *testing.T) {
	f := newFixture(t)
	const skydns = "layout: skydns\nmappings:\n  app.example.com: {group: 7, ttl: 5s}\n"
	h1 := f.start(t, "lb1", skydns, 7)
	h2 := f.start(t, "lb2", skydns, 7)
	joinReady(h1, 7, "10.0.0.1", "2001:db8::1")
	joinReady(h2, 7, "10.0.0.2")
	want := []string{"10.0.0.1", "10.0.0.2", "2001:db8::1"}
	sdktest.Eventually(t, "app.example.com answers both listeners' members", func() bool {
		hosts, _ := f.coreDNSLookup(t, "/skydns", "app.example.com.")
		return slices.Equal(hosts, want)
	})
	if _, ttls := f.coreDNSLookup(t, "/skydns", "app.example.com"); slices.ContainsFunc(ttls, func(v uint32) bool { return v != 5 }) {
		t.Errorf("ttls = %v, want 5 each", ttls)
	}
	h1.Leave(7, addr("10.0.0.1"))
	h1.Sync()
	sdktest.Eventually(t, "leave removes the answer", func() bool {
		hosts, _ := f.coreDNSLookup(t, "/skydns", "app.example.com")
		return slices.Equal(hosts, []string{"10.0.0.2", "2001:db8::1"})
	})
}

// TestTwoInstancesSideBySide: two outputs publishing the same group under
// different instances keep both sets, and a restart of one (a fresh process
// reconciling) leaves the other's keys alone.
func TestTwoInstancesSideBySide(t *testing.T) {
	f := newFixture(t)
	joinReady(f.start(t, "lb1", "", 7), 7, "10.0.0.1")
	joinReady(f.start(t, "lb2", "", 7), 7, "10.0.0.2")
	want := "/rgap/groups/7/members/lb1/10.0.0.1\n/rgap/groups/7/members/lb2/10.0.0.2\n/rgap/groups/7/ready/lb1\n/rgap/groups/7/ready/lb2"
	sdktest.Eventually(t, "both sets", func() bool { return f.keyList(t, "/rgap/") == want })
	joinReady(f.start(t, "lb2", "", 7), 7) // lb2 restarted, empty group
	want = "/rgap/groups/7/members/lb1/10.0.0.1\n/rgap/groups/7/ready/lb1\n/rgap/groups/7/ready/lb2"
	sdktest.Eventually(t, "lb2's reconcile removed only its own member", func() bool {
		return f.keyList(t, "/rgap/") == want
	})
}
