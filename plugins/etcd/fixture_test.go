package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/plugins/etcd/etcdtest"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdFixture is the setup every test against a real etcd shares: the
// server (package etcdtest), a client of it to read what the output wrote,
// and the output started against it.
type etcdFixture struct {
	srv *etcdtest.Server
	cli *clientv3.Client
}

// newFixture starts an etcd server for the test; it stops when the test
// ends.
func newFixture(t *testing.T) *etcdFixture {
	t.Helper()
	return fixtureOf(etcdtest.Start(t))
}

// fixtureOf is the fixture of a server the test started itself.
func fixtureOf(srv *etcdtest.Server) *etcdFixture {
	return &etcdFixture{srv: srv, cli: srv.Client()}
}

// spec is the part of a spec every test writes: the server's endpoint and
// the instance name.
func (f *etcdFixture) spec(instance string) string {
	return "endpoints: [" + f.srv.Endpoint() + "]\ninstance: " + instance + "\n"
}

// start runs the output with f.spec(instance) followed by extra (more
// keys, each line ending in "\n") in a listener that has the given groups.
func (f *etcdFixture) start(t *testing.T, instance, extra string, groups ...uint64) *sdktest.Harness {
	t.Helper()
	infos := make([]sdk.GroupInfo, len(groups))
	for i, id := range groups {
		infos[i] = sdk.GroupInfo{ID: id}
	}
	return sdktest.Start(t, Plugin, f.spec(instance)+extra, infos...)
}

// keys returns the keys under prefix, sorted.
func (f *etcdFixture) keys(t *testing.T, prefix string) []string {
	t.Helper()
	return etcdtest.Keys(t, f.cli, prefix)
}

// keyList returns the keys under prefix, sorted, one a line, without a
// final newline.
func (f *etcdFixture) keyList(t *testing.T, prefix string) string {
	t.Helper()
	return strings.Join(f.keys(t, prefix), "\n")
}

// dump returns every key under prefix and its value, as "key=value" lines
// sorted by key.
func (f *etcdFixture) dump(t *testing.T, prefix string) string {
	t.Helper()
	return etcdtest.Dump(t, f.cli, prefix)
}

// value returns the value of key, "" when it is absent.
func (f *etcdFixture) value(t *testing.T, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := f.cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// joinReady joins members with the given addresses (no expiry) to group,
// marks the group ready and waits until the output has handled it all.
func joinReady(h *sdktest.Harness, group uint64, addrs ...string) {
	for _, a := range addrs {
		h.Join(group, addr(a), time.Time{})
	}
	h.Ready(group)
	h.Sync()
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// watchEvents collects "PUT key" and "DELETE key" lines from a watch on
// prefix, started before the output writes anything.
type watchEvents struct {
	ch chan string
}

func (f *etcdFixture) watch(t *testing.T, prefix string) *watchEvents {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := &watchEvents{ch: make(chan string, 100000)}
	wc := f.cli.Watch(ctx, prefix, clientv3.WithPrefix())
	go func() {
		for resp := range wc {
			for _, e := range resp.Events {
				w.ch <- fmt.Sprintf("%s %s", e.Type, e.Kv.Key)
			}
		}
	}()
	return w
}

// expect waits for the watch to report every one of want, in any order
// (other events allowed).
func (w *watchEvents) expect(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	missing := map[string]bool{}
	for _, x := range want {
		missing[x] = true
	}
	for len(missing) > 0 {
		select {
		case got := <-w.ch:
			delete(missing, got)
		case <-deadline:
			t.Fatalf("watch did not report %v within 10s", missing)
		}
	}
}

// coreDNSLookup answers an A/AAAA query for name the way CoreDNS's etcd
// plugin documents it: the name's labels reversed below the path form a key
// prefix; every key below "<prefix>/" is a SkyDNS service record whose host
// is an answer (and only when there is none, keys starting with the prefix
// without the slash).
func (f *etcdFixture) coreDNSLookup(t *testing.T, path, name string) (hosts []string, ttls []uint32) {
	t.Helper()
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(labels)
	key := strings.TrimSuffix(path, "/") + "/" + strings.Join(labels, "/")
	resp, err := f.cli.Get(context.Background(), key+"/", clientv3.WithPrefix())
	if err == nil && len(resp.Kvs) == 0 {
		resp, err = f.cli.Get(context.Background(), key, clientv3.WithPrefix())
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		var svc struct {
			Host string `json:"host"`
			Port int    `json:"port"`
			TTL  uint32 `json:"ttl"`
		}
		if err := json.Unmarshal(kv.Value, &svc); err != nil {
			t.Fatalf("%s: value %q is not a SkyDNS service record: %v", kv.Key, kv.Value, err)
		}
		if _, err := netip.ParseAddr(svc.Host); err != nil {
			t.Fatalf("%s: host %q is not an address", kv.Key, svc.Host)
		}
		hosts = append(hosts, svc.Host)
		ttls = append(ttls, svc.TTL)
	}
	slices.Sort(hosts)
	return hosts, ttls
}
