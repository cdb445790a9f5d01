package listener

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/atomicfile"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/statefile"
)

// DefaultStateInterval is how often the state file is rewritten while the
// group state keeps changing. Nothing is written while nothing changes.
const DefaultStateInterval = 5 * time.Second

// maxStateFileSize bounds what is read of a state file: 62 bytes a member,
// so far beyond any real membership; it only stops a wrong path (a log
// file, a disk image) from being read into memory.
const maxStateFileSize = 256 << 20

// stateFileMode is the permission of the state file. Member addresses are
// not secret, but nobody else needs them either.
const stateFileMode fs.FileMode = 0o600

// restoreState loads the state file at path into reg, which must not be
// running yet. Nothing here stops the listener: a file that is missing,
// unreadable or not a valid state file is logged and ignored, and the
// groups then start empty with their readiness delay.
//
// A saved group that is still configured gets back its members whose
// expiry is ahead, and is ready at once when the file was written less than
// the group's expire ago: every member still live then has either announced
// since (and will again within its interval) or is in the file.
func restoreState(log hclog.Logger, path string, reg *group.Registry, groups []config.Group, now time.Time) {
	st, err := readState(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info("no state file yet; groups start empty", "path", path)
		return
	case err != nil:
		log.Warn("state file ignored; groups start empty", "path", path, "reason", err.Error())
		return
	}
	expire := make(map[uint64]time.Duration, len(groups))
	for _, g := range groups {
		expire[g.ID] = g.Expire
	}
	age := now.Sub(st.Written)
	known := 0
	for i := range st.Groups {
		g := &st.Groups[i]
		e, ok := expire[g.ID]
		if ok {
			known++
		}
		g.Ready = ok && age >= 0 && age < e
	}
	if known == 0 && len(st.Groups) > 0 {
		log.Warn("state file ignored: none of its groups is configured (it is from another group set)",
			"path", path, "groups", len(st.Groups))
		return
	}
	res, err := reg.Restore(st.Groups)
	if err != nil {
		log.Warn("state file ignored", "path", path, "reason", err.Error())
		return
	}
	if len(res.Unknown) > 0 {
		log.Info("state file groups that are not configured were skipped", "path", path, "groups", res.Unknown)
	}
	log.Info("state restored", "path", path, "written", st.Written.Format(time.RFC3339Nano), "age", age.Round(time.Millisecond).String(),
		"members", res.Members, "expired", res.Expired, "capped", res.Capped, "left_marks", res.LeftMarks, "ready_groups", res.Ready)
}

// readState reads and decodes the state file. Anything but a regular file
// is refused without reading from it (a FIFO would block the start).
func readState(path string) (statefile.State, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return statefile.State{}, err
	}
	defer func() { _ = f.Close() }() // opened read-only
	info, err := f.Stat()
	if err != nil {
		return statefile.State{}, err
	}
	if !info.Mode().IsRegular() {
		return statefile.State{}, fmt.Errorf("%s is not a regular file (mode %s)", path, info.Mode())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStateFileSize+1))
	if err != nil {
		return statefile.State{}, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxStateFileSize {
		return statefile.State{}, fmt.Errorf("%s is larger than %d bytes", path, maxStateFileSize)
	}
	st, err := statefile.Decode(b)
	if err != nil {
		return statefile.State{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// startStateWriter starts keeping the state file at path up to date, in a
// goroutine counted in wg that ends with ctx. It returns nil when path is
// "" (no state file); a nil writer's save does nothing.
func startStateWriter(ctx context.Context, wg *sync.WaitGroup, path string, reg *group.Registry, clock group.Clock, interval time.Duration, log hclog.Logger) *stateWriter {
	if path == "" {
		return nil
	}
	if interval <= 0 {
		interval = DefaultStateInterval
	}
	w := &stateWriter{path: path, reg: reg, now: clock.Now, log: log}
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.run(ctx, clock, interval)
	}()
	return w
}

// stateWriter keeps the state file up to date while the listener runs.
type stateWriter struct {
	path string
	reg  *group.Registry
	now  func() time.Time
	log  hclog.Logger

	mu       sync.Mutex // one save at a time; guards the fields below
	saved    bool       // something was written by this run
	savedSeq uint64     // reg.Seq() when the last write started
	failures int        // consecutive failed writes
}

// run saves the state every interval when the registry changed, until ctx
// is done. The final save on stop is the caller's (see save).
func (w *stateWriter) run(ctx context.Context, clock group.Clock, interval time.Duration) {
	t := clock.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			w.saveIfChanged()
		}
	}
}

// saveIfChanged saves unless the registry is where the last save left it.
func (w *stateWriter) saveIfChanged() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.saved || w.reg.Seq() != w.savedSeq {
		w.saveLocked()
	}
}

// save writes the current state. It does nothing on a nil writer.
func (w *stateWriter) save() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.saveLocked()
}

// saveLocked writes the current state; w.mu must be held. Only groups that are ready are saved: a
// group still in its readiness delay may not know all its members yet, and
// the next run must not take it as ready. A failure is logged once per
// streak of failures (and its end once): the listener goes on, and a disk
// that stays full does not flood the log.
func (w *stateWriter) saveLocked() {
	seq := w.reg.Seq()
	st := statefile.State{Written: w.now()}
	for _, g := range w.reg.StateSnapshot(nil) { // with the anti-replay marks
		if g.Ready {
			st.Groups = append(st.Groups, g)
		}
	}
	var buf bytes.Buffer
	err := statefile.Encode(&buf, st)
	if err == nil {
		err = atomicfile.Replace(w.path, buf.Bytes(), stateFileMode, nil)
	}
	if err != nil {
		w.failures++
		if w.failures == 1 {
			w.log.Warn("state file not written; the listener goes on and retries", "path", w.path, "error", err.Error())
		} else {
			w.log.Debug("state file still not written", "path", w.path, "error", err.Error(), "failures", w.failures)
		}
		return
	}
	if w.failures > 0 {
		w.log.Info("state file written again", "path", w.path, "failed_writes", w.failures)
		w.failures = 0
	}
	w.saved, w.savedSeq = true, seq
	if w.log.IsTrace() {
		w.log.Trace("state file written", "path", w.path, "groups", len(st.Groups), "bytes", buf.Len())
	}
}
