package dns

import (
	"errors"
	"sync/atomic"

	miekg "github.com/miekg/dns"

	"github.com/rgap-project/rgap/sdk"
)

// stats counts queries by outcome, so that bad input is counted rather than
// logged one by one. Each query adds to exactly one counter.
type stats struct {
	answered  atomic.Uint64 // NOERROR with at least one address
	nodata    atomic.Uint64 // NOERROR without an answer
	refused   atomic.Uint64 // unmapped name or class other than IN
	servfail  atomic.Uint64 // group not ready yet
	formerr   atomic.Uint64 // not exactly one question, several OPT records
	notimp    atomic.Uint64 // opcode other than QUERY, zone transfer
	badvers   atomic.Uint64 // EDNS version other than 0
	ignored   atomic.Uint64 // responses (QR set) sent to us
	malformed atomic.Uint64 // unparseable datagrams and messages
	failed    atomic.Uint64 // the response could not be packed or sent
	panics    atomic.Uint64 // bugs: a query made the responder panic
	// truncated counts answers that left out members because they did
	// not fit (on top of the outcome counter of the query).
	truncated atomic.Uint64
}

// count records the outcome of one response; err is the packing or sending
// error, if any.
func (s *stats) count(rcode, answers int, err error) {
	switch {
	case err != nil:
		s.failed.Add(1)
	case rcode == miekg.RcodeSuccess && answers > 0:
		s.answered.Add(1)
	case rcode == miekg.RcodeSuccess:
		s.nodata.Add(1)
	case rcode == miekg.RcodeRefused:
		s.refused.Add(1)
	case rcode == miekg.RcodeServerFailure:
		s.servfail.Add(1)
	case rcode == miekg.RcodeFormatError:
		s.formerr.Add(1)
	case rcode == miekg.RcodeNotImplemented:
		s.notimp.Add(1)
	case rcode == miekg.RcodeBadVers:
		s.badvers.Add(1)
	}
}

// statsSnapshot is a copy of the counters, comparable with ==.
type statsSnapshot struct {
	Answered, NoData, Refused, ServFail, FormErr, NotImp, BadVers, Ignored, Malformed, Failed, Panics, Truncated uint64
}

func (s *stats) snapshot() statsSnapshot {
	return statsSnapshot{
		Answered:  s.answered.Load(),
		NoData:    s.nodata.Load(),
		Refused:   s.refused.Load(),
		ServFail:  s.servfail.Load(),
		FormErr:   s.formerr.Load(),
		NotImp:    s.notimp.Load(),
		BadVers:   s.badvers.Load(),
		Ignored:   s.ignored.Load(),
		Malformed: s.malformed.Load(),
		Failed:    s.failed.Load(),
		Panics:    s.panics.Load(),
		Truncated: s.truncated.Load(),
	}
}

// keyvals renders the snapshot as hclog key/value pairs.
func (s statsSnapshot) keyvals() []any {
	return []any{
		"answered", s.Answered, "nodata", s.NoData, "refused", s.Refused,
		"servfail", s.ServFail, "formerr", s.FormErr, "notimp", s.NotImp,
		"badvers", s.BadVers, "ignored", s.Ignored, "malformed", s.Malformed,
		"failed", s.Failed, "panics", s.Panics, "truncated", s.Truncated,
	}
}

// export serves the counters on the listener's /metrics (read when it is
// scraped: nothing is counted twice).
func (s *stats) export(m *sdk.Metrics) error {
	return errors.Join(
		m.CounterFunc("queries_total", "DNS queries answered, by response code.", []string{"rcode"},
			func(emit func(float64, ...string)) {
				emit(float64(s.answered.Load()+s.nodata.Load()), "NOERROR")
				emit(float64(s.refused.Load()), "REFUSED")
				emit(float64(s.servfail.Load()), "SERVFAIL")
				emit(float64(s.formerr.Load()), "FORMERR")
				emit(float64(s.notimp.Load()), "NOTIMP")
				emit(float64(s.badvers.Load()), "BADVERS")
			}),
		m.CounterFunc("queries_unanswered_total", "DNS messages not answered, by reason.", []string{"reason"},
			func(emit func(float64, ...string)) {
				emit(float64(s.ignored.Load()), "ignored")
				emit(float64(s.malformed.Load()), "malformed")
				emit(float64(s.failed.Load()), "send_failed")
				emit(float64(s.panics.Load()), "panic")
			}),
		m.CounterFunc("truncated_answers_total", "Answers that left out members because they did not fit (UDP size).", nil,
			func(emit func(float64, ...string)) { emit(float64(s.truncated.Load())) }),
	)
}
