package command

import (
	"bytes"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// maxLine is the longest line forwarded as one log entry; longer lines are
// split, so that a command printing without newlines cannot grow memory.
const maxLine = 16 << 10

// lineLogger is the io.Writer given to a command as stdout or stderr: it
// forwards every complete, non-empty line to the log at a fixed level.
// os/exec calls Write from one goroutine per stream, and flush only after
// Wait returned, so it needs no lock.
type lineLogger struct {
	log   hclog.Logger
	level hclog.Level
	buf   []byte
}

func (w *lineLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) > maxLine { // forward an overlong line in parts
				cut := splitPoint(w.buf)
				w.emit(w.buf[:cut])
				w.buf = append(w.buf[:0], w.buf[cut:]...)
			}
			break
		}
		line := p[:i]
		if len(w.buf) > 0 {
			w.buf = append(w.buf, line...)
			line = w.buf
		}
		w.emitLine(line)
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// flush forwards a last line that had no newline.
func (w *lineLogger) flush() {
	w.emitLine(w.buf)
	w.buf = w.buf[:0]
}

// emitLine forwards a complete line without its line ending, in parts when
// it is overlong.
func (w *lineLogger) emitLine(line []byte) {
	line = bytes.TrimRight(line, "\r")
	for len(line) > maxLine {
		cut := splitPoint(line)
		w.emit(line[:cut])
		line = line[cut:]
	}
	w.emit(line)
}

// emit forwards one piece of text; empty pieces are skipped.
func (w *lineLogger) emit(text []byte) {
	if len(text) > 0 {
		w.log.Log(w.level, "command output", "line", string(text))
	}
}

// splitPoint returns where to cut b, longer than maxLine, so that the first
// part fits in maxLine and, for UTF-8 text, no character is cut in two.
func splitPoint(b []byte) int {
	cut := maxLine
	for cut > maxLine-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
		cut--
	}
	if !utf8.RuneStart(b[cut]) { // not UTF-8 anyway
		return maxLine
	}
	return cut
}
