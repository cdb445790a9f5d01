package harness

import (
	"time"

	"github.com/rgap-project/rgap/bench/internal/procfs"
)

// NoisyShare is the share of other work, on the CPU a measured process ran
// on, above which a run is flagged: the process then had to wait for its
// CPU, so drops and latencies are not representative.
const NoisyShare = 0.05

// CPUSpan is the machine-noise check: the CPU time measured processes use
// over a span, and the other work meanwhile on the CPU they run on (or on
// every CPU), whoever's work it was.
type CPUSpan struct {
	own         func() (time.Duration, error) // the processes' CPU time so far
	cpu         int                           // negative: every CPU
	own0, busy0 time.Duration
}

// StartCPUSpan starts a span of the processes whose CPU time own reads,
// running on CPU cpu; a negative cpu watches the whole machine.
func StartCPUSpan(cpu int, own func() (time.Duration, error)) (CPUSpan, error) {
	s := CPUSpan{own: own, cpu: cpu}
	var err error
	if s.own0, err = own(); err != nil {
		return s, err
	}
	s.busy0, err = procfs.CPUBusy(cpu)
	return s, err
}

// End returns the processes' CPU time since StartCPUSpan and the time
// their CPU (or the machine) was busy with anything else meanwhile.
func (s CPUSpan) End() (own, other time.Duration, err error) {
	own1, err := s.own()
	if err != nil {
		return 0, 0, err
	}
	busy1, err := procfs.CPUBusy(s.cpu)
	return own1 - s.own0, max(0, busy1-s.busy0-(own1-s.own0)), err
}

// NoiseWarning prints the warning of a report whose noisy runs (more than
// NoisyShare of other work on the measured CPU) make its figures suspect.
func NoiseWarning(w *Writer, noisy, runs int, where string) {
	if noisy > 0 {
		w.Printf("WARNING: in %d of %d runs other work took more than %.0f%% of %s: the machine is busy,\n"+
			"so drops, latencies and, less so, CPU per unit of work are not representative; rerun when idle\n", noisy, runs, 100*NoisyShare, where)
	}
}
