package e2e

// A reload that adds a group reaches a running all-groups output as a new
// group list on its stream (CAPABILITY_GROUP_UPDATES): the plugin keeps
// its process and logs no event for members it already had.

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
)

// regroupConfig is a listener with group 1000 (and 2000 when withSecond)
// and one eventlog output for every group.
func regroupConfig(port int, withSecond bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen:\n  - 127.0.0.1:%d\ngroups:\n  - id: 1000\n    psk: %s\n    expire: 60s\n    readiness_delay: 0s\n", port, plugPSK)
	if withSecond {
		fmt.Fprintf(&b, "  - id: 2000\n    psk: %s\n    expire: 60s\n    readiness_delay: 0s\n", reloadPSK2)
	}
	b.WriteString("outputs:\n  - kind: eventlog\n")
	return b.String()
}

// regroupAnnounce sends one signed announcement of addr in group.
func regroupAnnounce(t *testing.T, c net.Conn, pskHex string, group uint64, addr string) {
	t.Helper()
	b := groupKey(t, pskHex).Append(nil, protocol.Announcement{Group: group, Timestamp: time.Now().UnixMicro(), Addr: netip.MustParseAddr(addr)})
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestReloadNewGroupKeepsAllGroupsOutput(t *testing.T) {
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	dir := t.TempDir()
	path := writeConfig(t, dir, regroupConfig(port, false))
	l := start(t, dir, nil, "listener", "-c", path)
	l.waitLog(20*time.Second, "listening", msgIs("listening"))
	before := plugWaitPlugins(t, l, 20*time.Second, nil, "eventlog")

	c := dialListener(t, port)
	members := []string{"10.1.0.1", "10.1.0.2", "10.1.0.3"}
	for _, a := range members {
		regroupAnnounce(t, c, plugPSK, 1000, a)
	}
	joined := func(group string) func(logLine) bool {
		return func(x logLine) bool { return x.msg() == "address joined" && x.str("group") == group }
	}
	l.waitN(20*time.Second, len(members), "group 1000's members join", joined("1000"))

	writeConfig(t, dir, regroupConfig(port, true))
	hup(t, l)
	l.waitLog(30*time.Second, "configuration reloaded", msgIs("configuration reloaded"))
	l.waitLog(20*time.Second, "the new group list sent to the eventlog output", msgIs("sending the new group list to the output plugin"))

	regroupAnnounce(t, c, reloadPSK2, 2000, "10.2.0.1")
	l.waitLog(20*time.Second, "group 2000's member joins", func(x logLine) bool {
		return joined("2000")(x) && x.str("address") == "10.2.0.1"
	})
	// Group 1000 again, after the reload: a refresh, not a join.
	for _, a := range members {
		regroupAnnounce(t, c, plugPSK, 1000, a)
	}
	regroupAnnounce(t, c, plugPSK, 1000, "10.1.0.4")
	l.waitLog(20*time.Second, "a new member of group 1000 joins", func(x logLine) bool {
		return joined("1000")(x) && x.str("address") == "10.1.0.4"
	})

	if !plugAlive(before["eventlog"]) {
		t.Errorf("the eventlog plugin %v was restarted by a reload that only added a group", before["eventlog"])
	}
	if n := l.count(joined("1000")); n != len(members)+1 {
		t.Errorf("group 1000: %d joins logged, want %d (one per member: none again for the reload)", n, len(members)+1)
	}
	if n := l.count(func(x logLine) bool { return x.msg() == "address left" }); n != 0 {
		t.Errorf("%d leaves logged, want none", n)
	}
	if n := l.count(msgIs("restarting output plugin: the groups it knows changed")); n != 0 {
		t.Errorf("an output was restarted for the new group list")
	}
	plugNoCrash(t, l)
}
