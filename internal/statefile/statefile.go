// Package statefile saves the listener's group members across a restart.
//
// Without it a restarted listener knows nobody: every group starts empty and
// outputs hold back answers for the group's readiness_delay, so a
// `systemctl restart` blanks every load balancer that follows rgap for that
// long. With it, members whose expiry is still ahead are live again at once,
// and a group whose state was saved less than its `expire` ago is ready at
// once too: any member that is still live must have announced since then,
// or is in the file.
//
// The format is a small versioned binary file, written whole and replaced
// atomically, so a reader sees either the previous file or the next one.
// Every byte is covered by a CRC-32C, so a truncated, corrupt or foreign
// file is refused with a reason, never half-applied; counts are checked
// against the file's size before anything is allocated, so a hostile file
// cannot make the listener allocate more than the file is long.
//
// # Layout (version 3)
//
// All integers are big-endian.
//
//	magic    8 bytes  "RGAPST\x00\x03" (the last byte is the version)
//	written  i64      Unix nanoseconds when the state was taken
//	groups   u32      number of groups, then for each group:
//	  id       u64
//	  members  u32    number of members, then for each member:
//	    addr     16 bytes (IPv4 as ::ffff:a.b.c.d)
//	    port     u16  (0: none, protocol v1)
//	    weight   u16  (0: none given)
//	    expires  i64  Unix nanoseconds
//	  marks    u32    number of anti-replay marks, then for each mark:
//	    addr     16 bytes
//	    port     u16
//	    mark     i64  Unix nanoseconds: the latest timestamp taken
//	    until    i64  Unix nanoseconds when a left member's mark is
//	                  forgotten; 0 for a live member's mark
//	crc      u32      CRC-32C (Castagnoli) of every byte before it
//
// The marks are what stops a captured announcement from re-adding a
// member that left, or one older than a member's latest, after a restart
// (see group.Registry.Restore).
//
// Version 2, written before the marks were saved, is the same without the
// marks count and marks; version 1, written before protocol v2, is version
// 2 without port and weight (24 bytes a member). Decode reads all three, so
// a listener upgraded across a change keeps its members; from versions 1
// and 2 they come back without marks (each live member's mark is then taken
// from its expiry), from version 1 with port and weight 0, as they had.
// Encode writes version 3.
package statefile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"time"

	"github.com/rgap-project/rgap/internal/group"
)

const (
	magic        = "RGAPST\x00\x03" // the version Encode writes
	headerSize   = len(magic) + 8 + 4
	groupSize    = 8 + 4
	memberSize   = 16 + 2 + 2 + 8
	memberSizeV1 = 16 + 8
	marksSize    = 4 // the marks count after a group's members
	markSize     = 16 + 2 + 8 + 8
	crcSize      = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFormat is wrapped by every error Decode returns for a file that is
// not a valid state file (as opposed to an error reading it).
var ErrFormat = errors.New("not a valid rgap state file")

// State is what the file holds: the members of every group at one moment.
type State struct {
	// Written is when the state was taken.
	Written time.Time
	// Groups holds each group's members and anti-replay marks; Ready is
	// not saved (the listener saves only ready groups, and decides
	// readiness from Written).
	Groups []group.GroupSnapshot
}

// Encode writes s to w in the file format.
func Encode(w io.Writer, s State) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(bw, crc)
	var buf [markSize]byte // the longest record
	put := func(b []byte) error {
		_, err := out.Write(b)
		return err
	}
	if err := put([]byte(magic)); err != nil {
		return err
	}
	binary.BigEndian.PutUint64(buf[:8], uint64(s.Written.UnixNano()))
	binary.BigEndian.PutUint32(buf[8:12], uint32(len(s.Groups)))
	if err := put(buf[:12]); err != nil {
		return err
	}
	for _, g := range s.Groups {
		binary.BigEndian.PutUint64(buf[:8], g.ID)
		binary.BigEndian.PutUint32(buf[8:12], uint32(len(g.Members)))
		if err := put(buf[:12]); err != nil {
			return err
		}
		for _, m := range g.Members {
			putAddrPort(buf[:], m.Addr, m.Port)
			binary.BigEndian.PutUint16(buf[18:20], m.Weight)
			binary.BigEndian.PutUint64(buf[20:28], uint64(m.Expires.UnixNano()))
			if err := put(buf[:memberSize]); err != nil {
				return err
			}
		}
		binary.BigEndian.PutUint32(buf[:4], uint32(len(g.Marks)))
		if err := put(buf[:4]); err != nil {
			return err
		}
		for _, mk := range g.Marks {
			putAddrPort(buf[:], mk.Addr, mk.Port)
			binary.BigEndian.PutUint64(buf[18:26], uint64(mk.Timestamp.UnixNano()))
			var until int64
			if !mk.Until.IsZero() {
				until = mk.Until.UnixNano()
			}
			binary.BigEndian.PutUint64(buf[26:34], uint64(until))
			if err := put(buf[:markSize]); err != nil {
				return err
			}
		}
	}
	binary.BigEndian.PutUint32(buf[:4], crc.Sum32())
	if _, err := bw.Write(buf[:4]); err != nil {
		return err
	}
	return bw.Flush()
}

// putAddrPort writes what starts both a member's and a mark's record: the
// address as 16 bytes, then the port.
func putAddrPort(b []byte, a netip.Addr, port uint16) {
	a16 := a.As16()
	copy(b[:16], a16[:])
	binary.BigEndian.PutUint16(b[16:18], port)
}

// Decode parses a whole state file. Every error for malformed content
// wraps ErrFormat and says what is wrong.
func Decode(b []byte) (State, error) {
	bad := func(format string, args ...any) (State, error) {
		return State{}, fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	if len(b) < headerSize+crcSize {
		return bad("%d bytes, shorter than the smallest state file", len(b))
	}
	if string(b[:len(magic)-1]) != magic[:len(magic)-1] {
		return bad("wrong magic bytes")
	}
	size, marks := memberSize, true
	switch v := b[len(magic)-1]; v {
	case 1:
		size, marks = memberSizeV1, false
	case 2:
		marks = false
	case magic[len(magic)-1]:
	default:
		return bad("format version %d, want 1 to %d", v, magic[len(magic)-1])
	}
	body, sum := b[:len(b)-crcSize], binary.BigEndian.Uint32(b[len(b)-crcSize:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return bad("checksum mismatch (truncated or corrupt)")
	}
	p := body[len(magic):]
	s := State{Written: time.Unix(0, int64(binary.BigEndian.Uint64(p))).UTC()}
	ngroups := binary.BigEndian.Uint32(p[8:])
	p = p[12:]
	if uint64(ngroups)*groupSize > uint64(len(p)) {
		return bad("%d groups do not fit in the file", ngroups)
	}
	s.Groups = make([]group.GroupSnapshot, 0, ngroups)
	seen := make(map[uint64]bool, ngroups)
	for i := uint32(0); i < ngroups; i++ {
		if len(p) < groupSize {
			return bad("group %d of %d: file ends early", i+1, ngroups)
		}
		id, n := binary.BigEndian.Uint64(p), binary.BigEndian.Uint32(p[8:])
		p = p[groupSize:]
		if seen[id] {
			return bad("group %d appears twice", id)
		}
		seen[id] = true
		if uint64(n)*uint64(size) > uint64(len(p)) {
			return bad("group %d: %d members do not fit in the file", id, n)
		}
		g := group.GroupSnapshot{ID: id, Members: make([]group.Member, n)}
		for j := range g.Members {
			m := group.Member{Addr: netip.AddrFrom16([16]byte(p[:16])).Unmap()}
			rest := p[16:size]
			if size == memberSize {
				m.Port = binary.BigEndian.Uint16(rest)
				m.Weight = binary.BigEndian.Uint16(rest[2:])
				rest = rest[4:]
			}
			m.Expires = time.Unix(0, int64(binary.BigEndian.Uint64(rest))).UTC()
			g.Members[j] = m
			p = p[size:]
		}
		if marks {
			var err error
			if g.Marks, p, err = decodeMarks(p); err != nil {
				return bad("group %d: %v", id, err)
			}
		}
		s.Groups = append(s.Groups, g)
	}
	if len(p) != 0 {
		return bad("%d bytes after the last group", len(p))
	}
	return s, nil
}

// decodeMarks reads a group's marks count and marks from the front of p
// and returns them and the rest of p.
func decodeMarks(p []byte) ([]group.Mark, []byte, error) {
	if len(p) < marksSize {
		return nil, nil, errors.New("file ends before its marks")
	}
	n := binary.BigEndian.Uint32(p)
	p = p[marksSize:]
	if uint64(n)*markSize > uint64(len(p)) {
		return nil, nil, fmt.Errorf("%d marks do not fit in the file", n)
	}
	if n == 0 {
		return nil, p, nil // as from a version without marks
	}
	marks := make([]group.Mark, n)
	for i := range marks {
		mk := group.Mark{
			Addr:      netip.AddrFrom16([16]byte(p[:16])).Unmap(),
			Port:      binary.BigEndian.Uint16(p[16:]),
			Timestamp: time.Unix(0, int64(binary.BigEndian.Uint64(p[18:]))).UTC(),
		}
		if until := int64(binary.BigEndian.Uint64(p[26:])); until != 0 {
			mk.Until = time.Unix(0, until).UTC()
		}
		marks[i] = mk
		p = p[markSize:]
	}
	return marks, p, nil
}
