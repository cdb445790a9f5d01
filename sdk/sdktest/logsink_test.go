package sdktest

import (
	"errors"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestLogSinkCaptures(t *testing.T) {
	s := NewLogSink(t, hclog.Debug)
	log := s.Logger().With("group", uint64(7))
	log.Trace("below the level")
	log.Info("written", "file", "/etc/hosts", "error", errors.New("disk full"))
	log.Warn("written", "file", "/tmp/hosts")
	log.Info("other")

	if got := len(s.Entries()); got != 3 {
		t.Fatalf("%d entries, want 3 (the trace line is below the level): %v", got, s.Entries())
	}
	found := s.Find(hclog.Info, "written")
	if len(found) != 1 {
		t.Fatalf("Find(info, written) = %v, want the one info line", found)
	}
	e := found[0]
	if e.Arg("file") != "/etc/hosts" || e.Arg("error") != "disk full" || e.Arg("group") != "7" || e.Arg("absent") != "" {
		t.Errorf("entry %s: want file, error message and the group given to With", e)
	}
	if e.Args["group"] != uint64(7) {
		t.Errorf("Args[group] = %#v, want the value as logged, uint64(7)", e.Args["group"])
	}
	if got, want := e.String(), "[info] written error=disk full file=/etc/hosts group=7"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	var msgs []string
	for _, e := range s.Entries() {
		msgs = append(msgs, e.Level.String()+" "+e.Message)
	}
	if want := []string{"info written", "warn written", "info other"}; !slices.Equal(msgs, want) {
		t.Errorf("Entries = %q, want %q in logged order", msgs, want)
	}
}

func TestLogSinkWait(t *testing.T) {
	s := NewLogSink(t, hclog.Trace)
	s.Logger().Info("first")
	if e := s.Wait(func(e LogEntry) bool { return e.Message == "first" }); e.Message != "first" {
		t.Fatalf("Wait for an earlier line returned %s", e)
	}
	go s.Logger().Trace("later", "n", 2)
	if e := s.Wait(func(e LogEntry) bool { return e.Message == "later" }); e.Arg("n") != "2" || e.Level != hclog.Trace {
		t.Fatalf("Wait for a later line returned %s", e)
	}
}
