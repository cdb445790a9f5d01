package listener

import (
	"sync/atomic"
	"time"

	"github.com/rgap-project/rgap/internal/buildinfo"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/ingest"
	"github.com/rgap-project/rgap/internal/metrics"
	"github.com/rgap-project/rgap/internal/source"
)

// metricsSources points the metrics endpoints at the counters the
// listener's parts keep anyway. open[i] tells whether conns[i] is being
// read.
func metricsSources(cfg *config.Config, conns []*source.Conn, open []atomic.Bool, pipe *ingest.Pipeline,
	reg *group.Registry, opts *Options, started time.Time) metrics.Sources {
	return metrics.Sources{
		Sockets: func() []metrics.Socket {
			out := make([]metrics.Socket, len(conns))
			for i, c := range conns {
				out[i] = metrics.Socket{Listen: cfg.Listen[i].Spec.String(), Received: c.Stats().Datagrams, Open: open[i].Load()}
			}
			return out
		},
		Drops:        pipe.Stats,
		Accepted:     pipe.AcceptedByGroup,
		Groups:       reg.Stats,
		Outputs:      opts.OutputStats,
		Build:        buildinfo.Read(),
		ConfigLoaded: started,
	}
}
