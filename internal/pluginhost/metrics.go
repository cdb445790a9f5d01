package pluginhost

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// MetricsTimeout bounds how long Metrics waits for one plugin's answer. A
// scrape asks every output in parallel, so a scrape takes at most about
// this long however many plugins are slow or hung.
const MetricsTimeout = time.Second

// OutputMetrics is the series one output's plugin exports (sdk.Metrics),
// as it reported them.
type OutputMetrics struct {
	Index    int
	Kind     string
	Families []*outputv1.MetricFamily
}

// metricsClient is the running plugin's connection, for Metrics.
type metricsClient struct{ rpc outputv1.OutputServiceClient }

// Metrics asks every running output's plugin for its series, in parallel,
// each call bounded by MetricsTimeout (and ctx), and returns the answers
// in output order. An output whose plugin is not running, does not answer
// in time, fails, or predates the Metrics call (Unimplemented) is left
// out: its series are missing from that scrape, and nothing else waits for
// it. Failures are logged at debug level: a scrape is routine.
func (h *Host) Metrics(ctx context.Context) []OutputMetrics {
	h.mu.Lock()
	stats := h.stats
	h.mu.Unlock()
	answers := make([]*OutputMetrics, len(stats))
	var wg sync.WaitGroup
	for i, s := range stats {
		c := s.client.Load()
		if c == nil {
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, MetricsTimeout)
			defer cancel()
			resp, err := c.rpc.Metrics(cctx, &outputv1.MetricsRequest{})
			idx := int(s.index.Load())
			if err != nil {
				if status.Code(err) != codes.Unimplemented {
					h.opts.Logger.Named("output").Debug("metrics not read", "output", idx, "kind", s.kind, "error", err)
				}
				return
			}
			answers[i] = &OutputMetrics{Index: idx, Kind: s.kind, Families: resp.GetFamilies()}
		})
	}
	wg.Wait()
	out := make([]OutputMetrics, 0, len(answers))
	for _, a := range answers {
		if a != nil {
			out = append(out, *a)
		}
	}
	return out
}
