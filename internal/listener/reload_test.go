package listener

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/ingest"
)

// TestReloadStatus: what the metrics report about the last load: a reload
// that failed makes it 0 and keeps the last success time; a good one sets
// it back to 1 and moves the time.
func TestReloadStatus(t *testing.T) {
	cfg := &config.Config{Path: "rgap.yaml", Groups: []config.Group{{ID: 1, Expire: time.Minute}}}
	gcfgs, igroups := groupConfigs(cfg)
	reg, err := group.New(gcfgs, group.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := ingest.New(igroups, reg, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	outs := runOutputs(t, cfg, reg)
	var wg sync.WaitGroup
	log := hclog.NewNullLogger()
	st := &runState{log: log, outs: outs, reg: reg, pipe: pipe,
		socks: &sockets{log: log, pipe: pipe, errc: make(chan error, 1), wg: &wg}}
	t0 := time.Now()
	st.loaded(cfg, t0)
	if ok, at := st.configStatus(); !ok || !at.Equal(t0) {
		t.Fatalf("after start: %v %v", ok, at)
	}
	bad := errors.New("rgap.yaml:3: groups[0].psk: want 64 hex characters")
	if err := st.reload(context.Background(), reloadRequest{err: bad}); !errors.Is(err, bad) {
		t.Fatalf("reload of a bad file = %v", err)
	}
	if ok, at := st.configStatus(); ok || !at.Equal(t0) {
		t.Errorf("after a failed reload: ok=%v at=%v, want false and the start time", ok, at)
	}
	next := &config.Config{Path: "rgap.yaml", Groups: []config.Group{{ID: 1, Expire: time.Minute}, {ID: 2, Expire: time.Minute}}}
	if err := st.reload(context.Background(), reloadRequest{config: next}); err != nil {
		t.Fatal(err)
	}
	if ok, at := st.configStatus(); !ok || !at.After(t0) {
		t.Errorf("after a good reload: ok=%v at=%v", ok, at)
	}
	if got := len(reg.Groups()); got != 2 {
		t.Errorf("the registry has %d groups after the reload, want 2", got)
	}
	wg.Wait()
}

// runOutputs runs the output host of cfg (which has no outputs), fed by
// reg, until the test ends, so that reloads can update it.
func runOutputs(t *testing.T, cfg *config.Config, reg *group.Registry) *outputs {
	t.Helper()
	outs, err := newOutputs(cfg, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- outs.run(ctx, reg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("output host: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for !outs.AllStarted() { // the host runs (it has no output to start)
		if time.Now().After(deadline) {
			t.Fatal("the output host did not start")
		}
		time.Sleep(time.Millisecond)
	}
	return outs
}
