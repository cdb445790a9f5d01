package dns

import (
	"sync/atomic"

	miekg "github.com/miekg/dns"
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
	Answered, NoData, Refused, ServFail, FormErr, NotImp, BadVers, Ignored, Malformed, Failed, Panics uint64
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
	}
}

// keyvals renders the snapshot as hclog key/value pairs.
func (s statsSnapshot) keyvals() []any {
	return []any{
		"answered", s.Answered, "nodata", s.NoData, "refused", s.Refused,
		"servfail", s.ServFail, "formerr", s.FormErr, "notimp", s.NotImp,
		"badvers", s.BadVers, "ignored", s.Ignored, "malformed", s.Malformed,
		"failed", s.Failed, "panics", s.Panics,
	}
}
