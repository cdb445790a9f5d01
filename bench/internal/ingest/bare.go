package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Bare receiver geometry: what the brief of the benchmark fixes as the
// floor a batch-reading Go receiver pays.
const (
	bareBatch      = 64
	bareBufferSize = 256
)

// runBare is -mode bare: it listens on a free port of 127.0.0.1, asking
// for bareReceiveBuffer bytes of receive buffer, prints "ready ADDR" on
// out, counts datagrams until ctx ends (SIGTERM or SIGINT), then prints
// "count N".
func runBare(ctx context.Context, out io.Writer) error {
	var sockErr error
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		err := c.Control(func(fd uintptr) {
			sockErr = setReceiveBuffer(int(fd), bareReceiveBuffer)
		})
		if err != nil {
			return err
		}
		return sockErr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bare receiver: %w", err)
	}
	defer func() { _ = pc.Close() }()

	p := ipv4.NewPacketConn(pc)
	msgs := make([]ipv4.Message, bareBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, bareBufferSize)}
	}
	if _, err := fmt.Fprintf(out, "ready %s\n", pc.LocalAddr()); err != nil {
		return fmt.Errorf("ready line: %w", err)
	}
	go func() { <-ctx.Done(); _ = pc.Close() }() // ends ReadBatch
	var received uint64
	for {
		n, err := p.ReadBatch(msgs, 0)
		if errors.Is(err, net.ErrClosed) && ctx.Err() != nil {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", pc.LocalAddr(), err)
		}
		received += uint64(n)
	}
	if _, err := fmt.Fprintf(out, "count %d\n", received); err != nil {
		return fmt.Errorf("count line: %w", err)
	}
	return nil
}

// setReceiveBuffer asks for size bytes of receive buffer, with
// SO_RCVBUFFORCE first (root may exceed net.core.rmem_max) and plain
// SO_RCVBUF otherwise.
func setReceiveBuffer(fd, size int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) == nil {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
		return fmt.Errorf("set SO_RCVBUF to %d: %w", size, err)
	}
	return nil
}
