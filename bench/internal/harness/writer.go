package harness

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Writer prints a report to an io.Writer. It keeps the first write error
// and writes nothing after it, so that a report of many lines is checked
// once, at the end, with Err.
type Writer struct {
	w   io.Writer
	err error
}

// NewWriter returns a Writer printing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes b unless an earlier write failed; it returns the first
// failure.
func (p *Writer) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.w.Write(b)
	p.err = err
	return n, err
}

// Printf prints as fmt.Printf; a failure is kept for Err.
func (p *Writer) Printf(format string, a ...any) { _, _ = fmt.Fprintf(p, format, a...) }

// Print prints as fmt.Print; a failure is kept for Err.
func (p *Writer) Print(a ...any) { _, _ = fmt.Fprint(p, a...) }

// Println prints as fmt.Println; a failure is kept for Err.
func (p *Writer) Println(a ...any) { _, _ = fmt.Fprintln(p, a...) }

// Err returns the first write error, or nil.
func (p *Writer) Err() error { return p.err }

// Table returns a Writer laying out a table printed to p: tab-terminated
// cells, aligned right in columns two spaces apart, as every tool's tables
// are. Nothing reaches p before flush; a failure to write is kept by p.
func (p *Writer) Table() (table *Writer, flush func()) {
	tw := tabwriter.NewWriter(p, 0, 0, 2, ' ', tabwriter.AlignRight)
	return NewWriter(tw), func() { _ = tw.Flush() }
}

// Column is one numeric column of a rounds table: its heading, its value
// in a run, and how that is printed.
type Column[R any] struct {
	Name   string
	Value  func(R) float64
	Format func(float64) string
}

// RoundsTable prints a table of runs: a row per run, its label cells
// (label, headed by labels) then its columns; then for each group, in
// order, the min, median and max of its runs (rows labelled with the
// statistic and the group, the other label cells left empty).
func RoundsTable[R any](w *Writer, labels []string, cols []Column[R], runs []R, label func(R) []string, groups []string, group func(R) string) {
	tw, flush := w.Table()
	for _, l := range labels {
		tw.Print(l, "\t")
	}
	for _, c := range cols {
		tw.Print(c.Name, "\t")
	}
	tw.Print("\n")
	for _, r := range runs {
		for _, l := range label(r) {
			tw.Print(l, "\t")
		}
		for _, c := range cols {
			tw.Print(c.Format(c.Value(r)), "\t")
		}
		tw.Print("\n")
	}
	for _, g := range groups {
		spreads := make([]Spread, len(cols))
		n := 0
		for i, c := range cols {
			var xs []float64
			for _, r := range runs {
				if group(r) == g {
					xs = append(xs, c.Value(r))
				}
			}
			spreads[i], n = Summarize(xs), len(xs)
		}
		if n == 0 {
			continue
		}
		for _, stat := range Names {
			tw.Printf("%s\t%s\t%s", stat, g, strings.Repeat("\t", max(0, len(labels)-2)))
			for i, c := range cols {
				tw.Print(c.Format(spreads[i].Pick(stat)), "\t")
			}
			tw.Print("\n")
		}
	}
	flush()
}

// Col returns a Column.
func Col[R any](name string, value func(R) float64, format func(float64) string) Column[R] {
	return Column[R]{Name: name, Value: value, Format: format}
}
