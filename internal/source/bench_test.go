package source

import (
	"context"
	"testing"
)

// BenchmarkRun measures the read loop while a second goroutine blasts
// 66-byte datagrams over loopback. One op is one datagram handed to the
// handler; allocs/op covers the whole process (the sender's connected
// Write does not allocate), so for the recvmmsg reader it must be 0.
func BenchmarkRun(b *testing.B) {
	for _, r := range readers {
		b.Run(r.name, func(b *testing.B) {
			c := listen(b, spec(b, "127.0.0.1", 0), Options{portable: r.portable})
			snd := sender(b, c.LocalAddr())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			msg := payload(1)
			go func() {
				for ctx.Err() == nil {
					_, _ = snd.Write(msg) // errors (ENOBUFS) only mean "try again"
				}
			}()
			var got int
			handle := func(dgs [][]byte) {
				got += len(dgs)
				if got >= b.N {
					cancel()
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := c.Run(ctx, handle); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := c.Stats()
			b.ReportMetric(float64(st.Datagrams)/float64(st.Batches), "datagrams/batch")
		})
	}
}
