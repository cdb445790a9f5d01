package ingest

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
)

// measurement is one receiver's run against one burst of the sender.
type measurement struct {
	Round    int
	Receiver string // kindBare or a listenerKind
	// Sent is what the sender handed to the kernel; SendElapsed how long
	// that took.
	Sent        uint64
	SendElapsed time.Duration
	// Received is datagrams the receiver read from its socket.
	Received uint64
	// Refused is what the listener read but did not accept (zero for the
	// bare receiver).
	Refused uint64
	// CPU is the receiver's CPU time from just before the burst until it
	// had read everything.
	CPU time.Duration
	// OtherCPU is the time the receiver's CPU spent on anything else over
	// the same span (other processes, interrupts, hypervisor steal): on an
	// idle machine it is near zero, otherwise the receiver had to share.
	OtherCPU time.Duration
	// Drained is false when the receiver did not settle within the drain
	// timeout, making CPU an underestimate.
	Drained bool
}

// Dropped is what was sent and never read.
func (m measurement) Dropped() uint64 {
	if m.Received >= m.Sent {
		return 0
	}
	return m.Sent - m.Received
}

// NsPerDatagram is receiver CPU per datagram read, in nanoseconds; NaN when
// nothing was read.
func (m measurement) NsPerDatagram() float64 {
	if m.Received == 0 {
		return math.NaN()
	}
	return float64(m.CPU.Nanoseconds()) / float64(m.Received)
}

// SendRate is the sender's datagrams per second of wall time.
func (m measurement) SendRate() float64 {
	if m.SendElapsed <= 0 {
		return math.NaN()
	}
	return float64(m.Sent) / m.SendElapsed.Seconds()
}

// verdict is the outcome against the two goals.
type verdict struct {
	// Listeners are the listener kinds measured, in report order.
	Listeners []string
	// Ratios are listener/bare CPU per datagram by listener kind and
	// round; Ratio their spread by listener kind.
	Ratios map[string]map[int]float64
	Ratio  map[string]harness.Spread
	// V2 is the spread over rounds of the v2 listener's CPU per datagram
	// over the v1 listener's (NaN unless both ran).
	V2 harness.Spread
	// ListenerSent, ListenerDropped and ListenerRefused add up the
	// listener's rounds: datagrams sent to it, lost before it read them,
	// and read but not accepted.
	ListenerSent, ListenerDropped, ListenerRefused uint64
	// BareDropped adds up the bare receiver's losses, for context: what
	// the machine loses with no listener work at all.
	BareDropped uint64
	// Undrained counts runs whose receiver did not settle in time.
	Undrained int
	// Shared counts runs in which other work took more than
	// harness.NoisyShare of the receiver's CPU time on its core.
	Shared int
}

// cpuPass reports whether the median ratio of every listener kind meets
// goalRatio.
func (v verdict) cpuPass() bool {
	for _, k := range v.Listeners {
		if !(v.Ratio[k].Median <= goalRatio) {
			return false
		}
	}
	return len(v.Listeners) > 0
}

// dropPass reports whether the listener accepted everything sent to it.
func (v verdict) dropPass() bool {
	return v.ListenerSent > 0 && v.ListenerDropped == 0 && v.ListenerRefused == 0
}

func (v verdict) pass() bool { return v.cpuPass() && v.dropPass() }

// evaluate pairs each round's listeners with its bare receiver.
func evaluate(ms []measurement) verdict {
	v := verdict{Ratios: map[string]map[int]float64{}, Ratio: map[string]harness.Spread{}}
	bare := map[int]measurement{}
	for _, m := range ms {
		if m.Receiver == kindBare {
			bare[m.Round] = m
			v.BareDropped += m.Dropped()
		}
		if !m.Drained {
			v.Undrained++
		}
		if m.OtherCPU.Seconds() > harness.NoisyShare*m.CPU.Seconds() {
			v.Shared++
		}
	}
	for _, m := range ms {
		if m.Receiver == kindBare {
			continue
		}
		if v.Ratios[m.Receiver] == nil {
			v.Ratios[m.Receiver] = map[int]float64{}
			v.Listeners = append(v.Listeners, m.Receiver)
		}
		v.ListenerSent += m.Sent
		v.ListenerDropped += m.Dropped()
		v.ListenerRefused += m.Refused
		if b, ok := bare[m.Round]; ok {
			v.Ratios[m.Receiver][m.Round] = m.NsPerDatagram() / b.NsPerDatagram()
		}
	}
	slices.Sort(v.Listeners) // "listener" before "listener v2"
	var v2 []float64
	for k, byRound := range v.Ratios {
		var rs []float64
		for round, r := range byRound {
			rs = append(rs, r)
			if v1, ok := v.Ratios[kindListener][round]; ok && k == listenerKind(2) {
				v2 = append(v2, r/v1)
			}
		}
		v.Ratio[k] = harness.Summarize(rs)
	}
	v.V2 = harness.Summarize(v2)
	return v
}

// columns are the numeric columns of the table.
var columns = []harness.Column[measurement]{
	harness.Col("sent", func(m measurement) float64 { return float64(m.Sent) }, harness.Count),
	harness.Col("received", func(m measurement) float64 { return float64(m.Received) }, harness.Count),
	harness.Col("dropped", func(m measurement) float64 { return float64(m.Dropped()) }, harness.Count),
	harness.Col("cpu_s", func(m measurement) float64 { return m.CPU.Seconds() }, harness.Fixed(3)),
	harness.Col("other_cpu_s", func(m measurement) float64 { return m.OtherCPU.Seconds() }, harness.Fixed(3)),
	harness.Col("ns/dgram", measurement.NsPerDatagram, harness.Fixed(1)),
	harness.Col("send_rate/s", measurement.SendRate, harness.Count),
}

// writeReport prints how it was measured (the options), every run, the
// spread over rounds per receiver, the per-round ratio and the verdict.
func writeReport(out io.Writer, setup orchestrateOptions, ms []measurement, v verdict) error {
	w := harness.NewWriter(out)
	protocols := make([]string, len(setup.protocols))
	for i, p := range setup.protocols {
		protocols[i] = "v" + strconv.Itoa(p)
	}
	w.Printf("ingest benchmark: %d x %s datagrams (%d addresses, group %d) per receiver, sendmmsg batch %d, listener traffic protocol %s\n",
		setup.Rounds, harness.Count(float64(setup.datagrams)), benchAddresses, benchGroup, setup.batch, strings.Join(protocols, " and "))
	w.Printf("sender (and this orchestrator) on CPU %d, receivers on CPU %d; bare = x/net ReadBatch %dx%d B, SO_RCVBUF %d; listener = %s listener, receive_buffer %d, metrics on\n\n",
		setup.senderCPU, setup.receiverCPU, bareBatch, bareBufferSize, bareReceiveBuffer, setup.RGAP, listenerReceiveBuffer)

	ratio := harness.Col("ratio", func(m measurement) float64 {
		if r, ok := v.Ratios[m.Receiver][m.Round]; ok {
			return r
		}
		return math.NaN()
	}, harness.Fixed(3))
	harness.RoundsTable(w, []string{"round", "receiver"}, append(slices.Clip(columns), ratio), ms,
		func(m measurement) []string {
			if !m.Drained {
				return []string{strconv.Itoa(m.Round), m.Receiver + " (undrained)"}
			}
			return []string{strconv.Itoa(m.Round), m.Receiver}
		},
		append([]string{kindBare}, v.Listeners...), func(m measurement) string { return m.Receiver })
	w.Println("\ndropped = sent - received; cpu_s = receiver utime+stime from just before the burst until its socket was drained;")
	w.Println("other_cpu_s = anything else on the receiver's CPU meanwhile (other processes, interrupts, steal); ratio = listener/bare ns/dgram of the round")

	var rates []float64
	for _, m := range ms {
		rates = append(rates, m.SendRate())
	}
	sr := harness.Summarize(rates)
	w.Printf("sender rate (full speed, one core): median %s datagrams/s (min %s, max %s) over %d bursts\n",
		harness.Count(sr.Median), harness.Count(sr.Min), harness.Count(sr.Max), len(ms))
	harness.NoiseWarning(w, v.Shared, len(ms), "the receiver's CPU time on its core")
	if v.Undrained > 0 {
		w.Printf("WARNING: %d receiver(s) did not finish reading within %v; their CPU time is too low\n", v.Undrained, drainTimeout)
	}
	f := harness.Fixed(3)
	if !math.IsNaN(v.V2.Median) {
		w.Printf("v2 traffic: listener v2/listener CPU per datagram, median over rounds %s (min %s, max %s)\n", f(v.V2.Median), f(v.V2.Min), f(v.V2.Max))
	}
	for _, k := range v.Listeners {
		r := v.Ratio[k]
		w.Printf("goal CPU:%s%s/bare CPU per datagram, median over rounds %s (min %s, max %s), goal <= %.2f: %s\n",
			strings.Repeat(" ", max(1, 3+len(kindListener)-len(k))), k, f(r.Median), f(r.Min), f(r.Max), goalRatio, harness.PassFail(r.Median <= goalRatio))
	}
	w.Printf("goal drops: listener lost %s and refused %s of %s datagrams sent (bare receiver lost %s), goal 0: %s\n",
		harness.Count(float64(v.ListenerDropped)), harness.Count(float64(v.ListenerRefused)), harness.Count(float64(v.ListenerSent)),
		harness.Count(float64(v.BareDropped)), harness.PassFail(v.dropPass()))
	return w.Err()
}
