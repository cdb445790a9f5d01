package propagation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/propagation/record"
	"github.com/rgap-project/rgap/internal/protocol"
)

// The control receiver (-mode control) is the floor the listener is
// compared with: a separate process that blocks in a read on a loopback
// UDP socket and notes, for each datagram, the address it announces and
// the time the read returned. It shows what the same traffic costs on the
// same machine at the same moment with one process wake-up per datagram
// and nothing else: on a shared machine, most of a latency tail comes from
// waiting for a CPU, and the control shows how much.

// controlReady is the control receiver's first line: "ready PORT".
const controlReady = "ready"

// runControl is -mode control: it listens on 127.0.0.1, prints "ready
// PORT", records every datagram until ctx ends, then writes the records to
// out (record.AppendJoins) and returns.
func runControl(ctx context.Context, out string, stdout io.Writer) error {
	if out == "" {
		return errors.New("-out is required in control mode")
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.SetReadBuffer(receiveBuffer); err != nil {
		return fmt.Errorf("set receive buffer: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s %d\n", controlReady, conn.LocalAddr().(*net.UDPAddr).Port); err != nil {
		return fmt.Errorf("ready line: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	joins := make([]record.Join, 0, 1<<16)
	buf := make([]byte, 2048)
	for {
		n, err := conn.Read(buf)
		now := time.Now().UnixNano()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("read: %w", err)
		}
		a, err := protocol.Parse(buf[:n])
		if err != nil {
			continue // not bench traffic; the report counts what was seen
		}
		joins = append(joins, record.Join{Addr: a.Addr, At: now})
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, record.AppendJoins(nil, joins), 0o600); err != nil {
		return fmt.Errorf("write records: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("write records: %w", err)
	}
	return nil
}

// startControl starts the control receiver (this program re-executed)
// and returns it with its port.
func (b *bench) startControl(ctx context.Context, out string) (*child.Process, uint16, error) {
	self, err := child.Self("-mode", "control", "-out", out)
	if err != nil {
		return nil, 0, err
	}
	p, err := child.Start(ctx, child.Options{Name: "control receiver", MergeOutput: true, Argv: b.command(self...)})
	if err != nil {
		return nil, 0, err
	}
	line, err := p.WaitLine(ctx, p.Stdout, startTimeout, "its ready line", func(l string) bool { return strings.HasPrefix(l, controlReady+" ") })
	if err != nil {
		p.Kill()
		return nil, 0, err
	}
	port, err := strconv.ParseUint(strings.TrimPrefix(line, controlReady+" "), 10, 16)
	if err != nil || port == 0 {
		p.Kill()
		return nil, 0, p.Failure(fmt.Errorf("ready line %q: want %q and a port", line, controlReady))
	}
	return p, uint16(port), nil
}
