//go:build !linux

package source

import "net"

// newMmsgReader returns nil outside Linux: the portable reader is used.
func newMmsgReader(*net.UDPConn, [][]byte) (batchReader, error) { return nil, nil }
