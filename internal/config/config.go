package config

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
)

// MaxFileSize is the largest configuration file Load reads. A listener
// configuration is a few kilobytes; the limit only stops a mistaken path
// (a log file) from being read into memory; devices and pipes are refused
// before anything is read.
const MaxFileSize = 16 << 20

// Config is a decoded and validated listener configuration.
type Config struct {
	// Path is the file name given to Load or Parse; every position and
	// message refers to it.
	Path string
	// Listen holds the addresses to receive announcements on, in file
	// order; there is at least one.
	Listen []Listen
	// Groups holds the redundancy groups, in file order, with unique ids.
	Groups []Group
	// Outputs holds the output plugins to run, in file order.
	Outputs []Output
	// PluginsDir is the directory searched for out-of-tree plugin
	// executables (rgap-plugin-<kind>), from the optional key plugins_dir.
	// A relative value is resolved against the directory of Path. "" means
	// the key is absent and the caller's default applies.
	PluginsDir string
	// ReceiveBuffer is the socket receive buffer size in bytes requested
	// by the optional key receive_buffer; 0 means the key is absent and the
	// caller's default applies.
	ReceiveBuffer int
	// StateFile is where the listener keeps the group members across a
	// restart (optional key state_file), resolved like PluginsDir; ""
	// when absent: nothing is saved or restored.
	StateFile string
	// HTTPListen is where the metrics and health endpoints are served
	// (optional key http_listen, host:port, checked by CheckHTTPListen);
	// "" means the key is absent: no HTTP server.
	HTTPListen string
	// Warnings are non-fatal notes about the file (a clock_skew capped at
	// expire, no groups at all), each naming file:line:column, key and,
	// where one applies, the group id. The caller should log them.
	Warnings []string
}

// Listen is one entry of the listen list.
type Listen struct {
	// Spec is the parsed address spec.
	Spec netspec.Spec
	// Pos is where the entry is written.
	Pos Pos
}

// Group is one redundancy group.
type Group struct {
	// ID is the group identifier carried in announcements.
	ID uint64
	// PSK is the key `psk` gives (key id 0); zero when only `keys` is
	// given.
	PSK protocol.PSK
	// Keys are all the group's keys, at least one: psk first (as key 0),
	// then the `keys` list in file order. Ids are unique.
	Keys []GroupKey
	// Expire is how long an announced address stays alive past the
	// announcement's timestamp; always > 0.
	Expire time.Duration
	// ClockSkew is the largest accepted distance between an announcement's
	// timestamp and the local clock; always in (0, Expire]: an unset or
	// zero clock_skew means Expire, a larger one is capped at Expire.
	ClockSkew time.Duration
	// ReadinessDelay is how long after start-up the group is reported to
	// outputs as not ready yet; >= 0.
	ReadinessDelay time.Duration
	// Pos is where the group's mapping starts.
	Pos Pos
}

// Output is one entry of the outputs list.
type Output struct {
	// Index is the entry's position in the outputs list, from 0.
	Index int
	// Kind names the output plugin. It is restricted to letters, digits,
	// '_' and '-' (at most 64 characters) because out-of-tree plugins are
	// looked up as the file rgap-plugin-<kind>: a kind can never name a
	// path outside the plugins directory.
	Kind string
	// Pos is where the entry's mapping starts.
	Pos Pos
	// SHA256 pins the plugin executable (optional key sha256): 64 hex
	// characters, lower-cased here; "" when absent.
	SHA256 string
	// Spec is the YAML text of the entry's spec, arranged so that a YAML
	// parser reports the same line numbers as in the configuration file
	// (see the package documentation); nil when spec is absent or null.
	// It never holds text from outside the spec.
	Spec []byte
	// SpecPos is where the spec's value starts (zero when spec is absent).
	SpecPos Pos
	// HangTimeout is how long the output's plugin may acknowledge nothing
	// before it is declared hung and replaced (optional key hang_timeout,
	// at least MinHangTimeout); 0 when absent or 0: the host's default applies.
	HangTimeout time.Duration
}

// MinHangTimeout is the smallest outputs[].hang_timeout accepted: the
// plugin must be able to acknowledge a heartbeat well within it.
const MinHangTimeout = 100 * time.Millisecond

// Load reads and parses the configuration file at path. A missing file
// yields an error that satisfies errors.Is(err, fs.ErrNotExist). Anything
// but a regular file (after following symbolic links) is refused with
// ErrNotRegularFile, naming the path and what it is, without reading from
// it: a named pipe with no writer would otherwise block the caller for
// ever, and a device could be read without end.
func Load(path string) (*Config, error) {
	// Stat first so that a device or pipe is not even opened; the file
	// may be swapped between the two calls, so the opened file is checked
	// again, and the open itself never waits for a pipe's writer.
	if fi, err := os.Stat(path); err == nil {
		if err := checkRegular(path, fi.Mode()); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	defer func() { _ = f.Close() }() // opened read-only: closing it cannot lose data
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read configuration %s: %w", path, err)
	}
	if err := checkRegular(path, fi.Mode()); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read configuration %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, &Error{Pos: Pos{File: path}, Err: &problem{kind: ErrTooLarge,
			msg: fmt.Sprintf("configuration file is larger than %d bytes", MaxFileSize)}}
	}
	return Parse(path, data)
}

// checkRegular refuses every file type but a regular file, saying which
// type it is: "is a named pipe, not a regular file".
func checkRegular(path string, mode fs.FileMode) error {
	t := mode.Type()
	if t == 0 {
		return nil
	}
	msg := "is not a regular file (mode " + mode.String() + ")"
	for _, k := range []struct {
		bit  fs.FileMode
		name string
	}{
		{fs.ModeDir, "a directory"},
		{fs.ModeNamedPipe, "a named pipe"},
		{fs.ModeSocket, "a socket"},
		{fs.ModeCharDevice, "a character device"},
		{fs.ModeDevice, "a block device"},
	} {
		if t&k.bit != 0 {
			msg = "is " + k.name + ", not a regular file"
			break
		}
	}
	return &Error{Pos: Pos{File: path}, Err: &problem{kind: ErrNotRegularFile, msg: msg}}
}

// Parse decodes and validates a configuration; path is used in positions
// and messages only (and to resolve a relative plugins_dir). On failure
// it returns every problem found, sorted by position and joined with
// errors.Join, and a nil *Config.
func Parse(path string, data []byte) (*Config, error) {
	// The YAML parser skips a UTF-8 byte order mark without counting it in
	// column numbers; dropping it here keeps byte offsets and columns of
	// the first line in step for spec extraction.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	d := &decoder{path: path, src: data}
	cfg := d.decode()
	if err := joinSorted(d.errs); err != nil {
		return nil, err
	}
	return cfg, nil
}
