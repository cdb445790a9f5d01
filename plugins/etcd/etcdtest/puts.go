package etcdtest

import (
	"context"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Puts records when a watch first saw each key put below a prefix: the
// moment a reader of etcd (CoreDNS, a confd) could have learnt of it. The
// propagation measurements of the etcd output read it.
type Puts struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// WatchPuts starts a watch on prefix with cli; it ends with the test.
func WatchPuts(t testing.TB, cli *clientv3.Client, prefix string) *Puts {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p := &Puts{seen: map[string]time.Time{}}
	wc := cli.Watch(ctx, prefix, clientv3.WithPrefix())
	go func() {
		for resp := range wc {
			now := time.Now()
			p.mu.Lock()
			for _, e := range resp.Events {
				if _, ok := p.seen[string(e.Kv.Key)]; !ok && e.Type == clientv3.EventTypePut {
					p.seen[string(e.Kv.Key)] = now
				}
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// Count is how many distinct keys the watch saw put.
func (p *Puts) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

// At is when the watch first saw key put.
func (p *Puts) At(key string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.seen[key]
	return at, ok
}

// WaitCount waits until the watch saw n keys put; the test fails after
// timeout.
func (p *Puts) WaitCount(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for p.Count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the watch saw %d keys put within %v, want %d", p.Count(), timeout, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
