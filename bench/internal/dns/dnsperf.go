package dns

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// errDNSPerfOutput marks dnsperf output this program cannot read.
var errDNSPerfOutput = errors.New("unexpected dnsperf output")

// perfResult is what dnsperf reports at the end of a run.
type perfResult struct {
	Sent, Lost uint64
	// QPS is completed queries per second of run time.
	QPS float64
	// Codes counts responses by response code (NOERROR, SERVFAIL, ...).
	Codes map[string]uint64
}

// notNoError counts responses with a code other than NOERROR: answers the
// benchmark did not mean to measure.
func (r perfResult) notNoError() uint64 {
	var n uint64
	for code, c := range r.Codes {
		if code != "NOERROR" {
			n += c
		}
	}
	return n
}

// isTimeoutLine reports a line dnsperf prints for each lost query; they
// are counted rather than kept.
func isTimeoutLine(l string) bool { return strings.HasPrefix(l, "[Timeout]") }

// parseDNSPerf reads the statistics block of dnsperf's standard output:
//
//	Queries sent:         232896
//	Queries completed:    232152 (99.68%)
//	Queries lost:         744 (0.32%)
//	Response codes:       NOERROR 232152 (100.00%)
//	Queries per second:   45794.262737
//
// Sent, lost and queries per second are required; the response
// codes are read when present, the other lines ignored.
func parseDNSPerf(lines []string) (perfResult, error) {
	r := perfResult{Codes: map[string]uint64{}}
	seen := map[string]bool{}
	for i, line := range lines {
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		first, _, _ := strings.Cut(val, " ")
		var err error
		switch key {
		case "Queries sent":
			r.Sent, err = strconv.ParseUint(first, 10, 64)
		case "Queries lost":
			r.Lost, err = strconv.ParseUint(first, 10, 64)
		case "Queries per second":
			r.QPS, err = strconv.ParseFloat(first, 64)
		case "Response codes":
			err = parseCodes(val, r.Codes)
		default:
			continue
		}
		if err != nil {
			return r, fmt.Errorf("%w: line %d %q: %w", errDNSPerfOutput, i+1, line, err)
		}
		seen[key] = true
	}
	for _, k := range []string{"Queries sent", "Queries lost", "Queries per second"} {
		if !seen[k] {
			return r, fmt.Errorf("%w: no %q line", errDNSPerfOutput, k)
		}
	}
	return r, nil
}

// parseCodes reads "NOERROR 10 (50.00%), SERVFAIL 10 (50.00%)" into codes.
func parseCodes(s string, codes map[string]uint64) error {
	for part := range strings.SplitSeq(s, ",") {
		f := strings.Fields(part)
		if len(f) < 2 {
			return fmt.Errorf("response code %q: want NAME COUNT", part)
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("response code %q: %w", part, err)
		}
		codes[f[0]] += n
	}
	return nil
}

// dnsperfArgs is the dnsperf command line for one run against server.
func dnsperfArgs(server string, port uint16, queryFile string, o options) []string {
	return []string{"dnsperf",
		"-s", server, "-p", strconv.Itoa(int(port)),
		"-d", queryFile,
		"-l", strconv.FormatFloat(o.duration.Seconds(), 'f', -1, 64),
		"-c", strconv.Itoa(clients),
		"-q", strconv.Itoa(o.outstanding),
		"-t", "2",
	}
}
