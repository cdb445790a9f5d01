// Package listener runs the `rgap listener` every benchmark measures: it
// writes its configuration (its groups on one loopback port, all signed
// with one PSK, ready at once and expiring long after a run, and the
// outputs the benchmark measures), starts it, waits until it listens, and
// reads its totals when it stops.
package listener

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/listenerlog"
	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// Config is one listener configuration.
type Config struct {
	// Listen is where announcements arrive.
	Listen netip.AddrPort
	// PSK (hex) signs every group.
	PSK string
	// Groups are the group ids.
	Groups []uint64
	// Expire is every group's expire, which the listener requires.
	Expire time.Duration
	// ReceiveBuffer is receive_buffer in bytes (0: not set).
	ReceiveBuffer int
	// HTTPListen is http_listen, the metrics endpoint (zero: off).
	HTTPListen netip.AddrPort
	// Outputs are the outputs, in order.
	Outputs []Output
}

// Output is one output: its kind and its spec, as YAML lines (key: value)
// indented below spec by the writer.
type Output struct {
	Kind string
	Spec []string
}

// Groups returns n consecutive group ids from first.
func Groups(first uint64, n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = first + uint64(i)
	}
	return ids
}

// YAML renders c; writer names the benchmark in its first line.
func (c Config) YAML(writer string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by the %s benchmark (bench/) for one measurement.\nlisten:\n  - %s\ngroups:\n", writer, c.Listen)
	for _, g := range c.Groups {
		fmt.Fprintf(&b, "  - id: %d\n    psk: %s\n    expire: %s\n    readiness_delay: 0s\n", g, c.PSK, c.Expire)
	}
	if c.ReceiveBuffer > 0 {
		fmt.Fprintf(&b, "receive_buffer: %d\n", c.ReceiveBuffer)
	}
	if c.HTTPListen.IsValid() {
		fmt.Fprintf(&b, "http_listen: %s\n", c.HTTPListen)
	}
	if len(c.Outputs) > 0 {
		b.WriteString("outputs:\n")
	}
	for _, o := range c.Outputs {
		fmt.Fprintf(&b, "  - kind: %s\n    spec:\n", o.Kind)
		for _, l := range o.Spec {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	}
	return []byte(b.String())
}

// Bounds on starting and stopping a listener.
const (
	startTimeout = 20 * time.Second // it listens, and Options.Ready came
	stopTimeout  = 15 * time.Second // it exits after SIGTERM
	portAttempts = 3                // tries to find a port nobody took meanwhile
)

// Options say how Start runs the listener.
type Options struct {
	// RGAP is the binary; Path where the configuration is written; Bench
	// names the benchmark in its first line.
	RGAP, Path, Bench string
	// CPU pins the listener (and the plugins it starts) to one CPU;
	// negative: not pinned.
	CPU int
	// Metrics turns the metrics endpoint on, on a free loopback port.
	Metrics bool
	// Args are added to the command line (such as --plugins-dir).
	Args []string
	// Ready, when set, is the message of a log line waited for after
	// "listening".
	Ready string
}

// Run is a listener that Start started. Its log (JSON, info level) is in
// Stderr.
type Run struct {
	*child.Process
	// Port receives the announcements; HTTPPort serves the metrics (0:
	// off).
	Port, HTTPPort uint16
	// Ready is the line Options.Ready matched (zero without it).
	Ready listenerlog.Line
}

// Dial connects a UDP socket to the port the listener receives
// announcements on.
func (r *Run) Dial() (*net.UDPConn, error) {
	return traffic.Dial(netip.AddrPortFrom(traffic.Loopback, r.Port))
}

// Start writes c, on free loopback ports, to o.Path, starts the listener
// on it and waits until it listens there and, with o.Ready, for that line.
// A port another process took meanwhile is retried with another.
func Start(ctx context.Context, c Config, o Options) (*Run, error) {
	var lastErr error
	for range portAttempts {
		r, err := start(ctx, c, o)
		if err == nil {
			return r, nil
		}
		lastErr = err
		if r == nil || !strings.Contains(r.Stderr.Tail(20), "address already in use") {
			return nil, err
		}
	}
	return nil, lastErr
}

// start is one attempt of Start; on failure it returns the killed process
// too when there was one, for its output.
func start(ctx context.Context, c Config, o Options) (*Run, error) {
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	c.Listen = netip.AddrPortFrom(traffic.Loopback, port)
	r := &Run{Port: port}
	if o.Metrics {
		if r.HTTPPort, err = freeTCPPort(); err != nil {
			return nil, err
		}
		c.HTTPListen = netip.AddrPortFrom(traffic.Loopback, r.HTTPPort)
	}
	if err := os.WriteFile(o.Path, c.YAML(o.Bench), 0o600); err != nil { // readable by its owner only: it holds the PSK
		return nil, fmt.Errorf("write listener configuration: %w", err)
	}
	argv := append([]string{o.RGAP, "--log-format", "json", "--log-level", "info", "listener", "-c", o.Path}, o.Args...)
	if r.Process, err = child.Start(ctx, child.Options{Name: "listener", Argv: child.Pinned(o.CPU, argv...)}); err != nil {
		return nil, err
	}
	want := c.Listen.String()
	_, err = r.WaitLine(ctx, r.Stderr, startTimeout, `the "listening" log line`, listenerlog.Matching(func(l listenerlog.Line) bool {
		return l.Message == listenerlog.MsgListening && l.Str("address") == want
	}))
	if err == nil && o.Ready != "" {
		var line string
		line, err = r.WaitLine(ctx, r.Stderr, startTimeout, fmt.Sprintf("the %q log line", o.Ready), listenerlog.Matching(func(l listenerlog.Line) bool {
			return l.Message == o.Ready
		}))
		r.Ready, _ = listenerlog.Parse(line)
	}
	if err != nil {
		r.Kill()
		return r, err
	}
	return r, nil
}

// Shutdown stops the listener and returns the totals it logs as it exits.
func (r *Run) Shutdown(ctx context.Context) (listenerlog.Totals, error) {
	if err := r.Stop(stopTimeout); err != nil {
		return listenerlog.Totals{}, err
	}
	line, err := r.WaitLine(ctx, r.Stderr, time.Second, `the "ingest totals" log line`, listenerlog.Matching(func(l listenerlog.Line) bool {
		return l.Message == listenerlog.MsgIngestTotals
	}))
	if err != nil {
		return listenerlog.Totals{}, err
	}
	l, _ := listenerlog.Parse(line)
	t, err := l.Totals()
	if err != nil {
		return t, r.Failure(err)
	}
	return t, nil
}

// freeUDPPort asks the kernel for a UDP port on 127.0.0.1 that is free
// now. Another process may take it before the listener binds it; Start
// then retries with another.
func freeUDPPort() (uint16, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
	if err := c.Close(); err != nil {
		return 0, fmt.Errorf("find a free UDP port: free %d: %w", port, err)
	}
	return port, nil
}

// freeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freeTCPPort() (uint16, error) {
	l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("find a free TCP port: %w", err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port) //nolint:gosec // a port number fits
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free TCP port: free %d: %w", port, err)
	}
	return port, nil
}
