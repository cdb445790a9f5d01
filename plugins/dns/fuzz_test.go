package dns

import (
	"encoding/binary"
	"testing"

	miekg "github.com/miekg/dns"
)

// FuzzHandler feeds arbitrary bytes to the query path the way the server
// does (header check, parse, handler) and checks that the responder never
// panics, answers at most once, and that whatever it sends is a well-formed
// response to that query that fits the transport.
func FuzzHandler(f *testing.F) {
	for _, tc := range responseCases {
		if b, err := tc.q().Pack(); err == nil {
			f.Add(b)
		}
	}
	for _, q := range []*miekg.Msg{
		query("big.example.com.", miekg.TypeAAAA, 1232),
		query("big4.example.com.", miekg.TypeA, 0),
		query("WORKER.example.com.", miekg.TypeANY, 4096),
		query("_http._tcp.bigsrv.example.com.", miekg.TypeSRV, 0),
		query("_http._tcp.svc.example.com.", miekg.TypeANY, 1232),
		query("20010db8000000000000000000000010.svc.example.com.", miekg.TypeAAAA, 0),
		query("192-0-2-10.svcport.example.com.", miekg.TypeANY, 0),
	} {
		b, _ := q.Pack()
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}) // self-pointing name
	f.Add([]byte{})

	r, _ := testResponder(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < headerLen {
			return // the server drops these before any parsing
		}
		dh := miekg.Header{
			Id:      binary.BigEndian.Uint16(data[0:]),
			Bits:    binary.BigEndian.Uint16(data[2:]),
			Qdcount: binary.BigEndian.Uint16(data[4:]),
			Ancount: binary.BigEndian.Uint16(data[6:]),
			Nscount: binary.BigEndian.Uint16(data[8:]),
			Arcount: binary.BigEndian.Uint16(data[10:]),
		}
		accepted := r.accept(dh) == miekg.MsgAccept
		req := new(miekg.Msg)
		if err := req.Unpack(data); err != nil {
			return // miekg/dns answers FORMERR itself
		}
		// The handler must cope with any parsed message, whether or not
		// the header check would have let it through.
		for _, stream := range []bool{false, true} {
			checkFuzzResponse(t, r, req, stream, accepted)
		}
	})
}

func checkFuzzResponse(t *testing.T, r *responder, req *miekg.Msg, stream, accepted bool) {
	w := &recordWriter{}
	r.serve(w, req, stream)
	if r.stats.panics.Load() != 0 {
		t.Fatal("the responder panicked")
	}
	if req.Response {
		if len(w.out) != 0 {
			t.Fatal("answered a response")
		}
		return
	}
	if len(w.out) != 1 {
		t.Fatalf("%d responses to a query, want 1", len(w.out))
	}
	raw := w.out[0]
	opt, _ := findOPT(req.Extra)
	if !stream && len(raw) > udpLimit(opt) {
		t.Fatalf("UDP response of %d bytes, client takes %d", len(raw), udpLimit(opt))
	}
	resp := new(miekg.Msg)
	if err := resp.Unpack(raw); err != nil {
		t.Fatalf("response does not parse: %v", err)
	}
	if resp.Id != req.Id || !resp.Response || resp.Truncated {
		t.Fatalf("response header id %#x QR %v TC %v, want id %#x, QR, no TC", resp.Id, resp.Response, resp.Truncated, req.Id)
	}
	if accepted && len(resp.Answer) > 0 {
		q := req.Question[0]
		for _, rr := range resp.Answer {
			if rr.Header().Name != q.Name {
				t.Fatalf("answer %v for question %v", rr, q)
			}
		}
	}
}
