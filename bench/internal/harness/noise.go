package harness

import (
	"time"

	"github.com/rgap-project/rgap/bench/internal/procfs"
)

// NoisyShare is the share of other work, on the CPU a measured process ran
// on, above which a run is flagged: the process then had to wait for its
// CPU, so drops and latencies are not representative.
const NoisyShare = 0.05

// Noise is the machine-noise check: over a span, how busy one CPU (or all
// of them) was, whoever's work it was. A measurement subtracts its own
// processes' CPU time to see the rest.
type Noise struct {
	cpu         int // negative: every CPU
	busy        time.Duration
	ticks, all  uint64
	wallStarted time.Time
}

// StartNoise starts a span on CPU cpu; a negative cpu watches the machine.
func StartNoise(cpu int) (Noise, error) {
	n := Noise{cpu: cpu, wallStarted: time.Now()}
	var err error
	if cpu < 0 {
		n.ticks, n.all, err = procfs.MachineBusy()
	} else {
		n.busy, err = procfs.CPUBusy(cpu)
	}
	return n, err
}

// Busy returns the time the CPU was busy since StartNoise and the share of
// the span that is (for the machine: the busy share of all CPUs).
func (n Noise) Busy() (time.Duration, float64, error) {
	if n.cpu < 0 {
		ticks, all, err := procfs.MachineBusy()
		if err != nil || all <= n.all {
			return 0, 0, err
		}
		return time.Duration(ticks-n.ticks) * time.Second / 100, float64(ticks-n.ticks) / float64(all-n.all), nil
	}
	busy, err := procfs.CPUBusy(n.cpu)
	if err != nil {
		return 0, 0, err
	}
	return busy - n.busy, float64(busy-n.busy) / float64(max(time.Since(n.wallStarted), 1)), nil
}

// CPUSpan is the CPU time measured processes use over a span, and the
// other work on the CPU they run on meanwhile.
type CPUSpan struct {
	own   func() (time.Duration, error) // the processes' CPU time so far
	own0  time.Duration
	noise Noise
}

// StartCPUSpan starts a span of the processes whose CPU time own reads,
// running on CPU cpu.
func StartCPUSpan(cpu int, own func() (time.Duration, error)) (CPUSpan, error) {
	own0, err := own()
	if err != nil {
		return CPUSpan{}, err
	}
	noise, err := StartNoise(cpu)
	return CPUSpan{own: own, own0: own0, noise: noise}, err
}

// End returns the processes' CPU time since StartCPUSpan and the time
// their CPU was busy with anything else meanwhile.
func (s CPUSpan) End() (own, other time.Duration, err error) {
	own1, err := s.own()
	if err != nil {
		return 0, 0, err
	}
	busy, _, err := s.noise.Busy()
	return own1 - s.own0, max(0, busy-(own1-s.own0)), err
}

// NoiseWarning prints the warning of a report whose noisy runs (more than
// NoisyShare of other work on the measured CPU) make its figures suspect.
func NoiseWarning(w *Writer, noisy, runs int, where string) {
	if noisy > 0 {
		w.Printf("WARNING: in %d of %d runs other work took more than %.0f%% of %s: the machine is busy,\n"+
			"so drops, latencies and, less so, CPU per unit of work are not representative; rerun when idle\n", noisy, runs, 100*NoisyShare, where)
	}
}
