package harness

import (
	"fmt"
	"io"
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

// Table returns a table printing to p: tab-terminated cells, aligned right
// in columns two spaces apart, as every tool's tables are. Nothing reaches
// p before Flush.
func (p *Writer) Table() *Table {
	return &Table{tw: tabwriter.NewWriter(p, 0, 0, 2, ' ', tabwriter.AlignRight)}
}

// Table lays out the rows of a report table. A failure to write it is kept
// by the Writer it prints to.
type Table struct {
	tw *tabwriter.Writer
}

// Printf adds text as fmt.Printf.
func (t *Table) Printf(format string, a ...any) { _, _ = fmt.Fprintf(t.tw, format, a...) }

// Print adds text as fmt.Print.
func (t *Table) Print(a ...any) { _, _ = fmt.Fprint(t.tw, a...) }

// Println adds text as fmt.Println.
func (t *Table) Println(a ...any) { _, _ = fmt.Fprintln(t.tw, a...) }

// Flush prints the table's rows.
func (t *Table) Flush() { _ = t.tw.Flush() }
