// Package metrics serves the listener's metrics and health over HTTP (the
// `http_listen` key): GET /metrics in the Prometheus text format, /healthz
// and /readyz.
//
// Nothing here counts anything. Every value is read at scrape time from the
// counters the parts of the listener already keep for their own shutdown
// totals (ingest's per-worker counters, the sockets', the group registry's
// and the plugin host's), through a custom prometheus.Collector: the
// per-datagram path does no extra work for metrics, and /metrics and the
// totals logged at shutdown can never disagree.
//
// Every series whose label values are known at start (each drop reason,
// listen entry, group and output) is present from the first scrape, at 0.
// No label names a member: the number of series depends on the
// configuration only.
package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rgap-project/rgap/internal/buildinfo"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/ingest"
	"github.com/rgap-project/rgap/internal/pluginhost"
)

// Socket is one listen entry as the endpoints see it.
type Socket struct {
	// Listen is the entry as written in the configuration; the label value.
	Listen string
	// Received counts the datagrams read from it.
	Received uint64
	// Open is true while its socket is open and read.
	Open bool
}

// Sources are where the endpoints read the listener's state, at request
// time. Every function must be safe to call from the HTTP server's
// goroutines; a nil one stands for "nothing of that kind".
type Sources struct {
	Sockets func() []Socket
	// Drops is ingest's drop counters, indexed by ingest.Reason.
	Drops func() ingest.Stats
	// Accepted is ingest's accepted announcements per group.
	Accepted func() []ingest.GroupCount
	// AcceptedByKey is ingest's accepted announcements per key of each
	// group (key 0 is a group's psk).
	AcceptedByKey func() []ingest.KeyCount
	Groups        func() []group.Stats
	// Outputs is the plugin host's view of every output; nil or empty
	// when no output is configured.
	Outputs func() []pluginhost.OutputStats
	// OutputMetrics reads the series the outputs' plugins export
	// (sdk.Metrics); each plugin's answer must be bounded in time
	// (pluginhost.Host.Metrics is). Nil: none.
	OutputMetrics func(context.Context) []pluginhost.OutputMetrics
	// Build labels rgap_build_info.
	Build buildinfo.Info
	// Config reports whether the last configuration load (the start or a
	// reload) succeeded, and when a configuration was last loaded
	// successfully.
	Config func() (ok bool, success time.Time)
}

// descs are the rgap_* series' descriptions. They are built by
// NewCollector rather than at package initialisation: every plugin process
// runs this binary's init, and only the listener serves metrics.
type descs struct {
	received, accepted, acceptedByKey, dropped, members, ready, joins, leaves, outputUp, restarts, hangs, events, reloadOK, reloadTime, build *prometheus.Desc
}

func newDescs() *descs {
	return &descs{
		received:      newDesc("rgap_announcements_received_total", "Datagrams received, by listen entry.", "listen"),
		accepted:      newDesc("rgap_announcements_accepted_total", "Announcements accepted, by group.", "group"),
		acceptedByKey: newDesc("rgap_announcements_accepted_by_key_total", "Announcements accepted, by group and the id of the group key that verified them (0: psk).", "group", "key"),
		dropped:       newDesc("rgap_announcements_dropped_total", "Datagrams dropped, by reason.", "reason"),
		members:       newDesc("rgap_group_members", "Live members of the group.", "group"),
		ready:         newDesc("rgap_group_ready", "1 once the group's readiness delay has passed, else 0.", "group"),
		joins:         newDesc("rgap_group_joins_total", "Addresses that joined the group.", "group"),
		leaves:        newDesc("rgap_group_leaves_total", "Addresses that left the group (expired).", "group"),
		outputUp:      newDesc("rgap_output_up", "1 while the output's plugin is running and configured, else 0.", "output", "kind"),
		restarts:      newDesc("rgap_output_restarts_total", "Restarts of the output's plugin after a failure.", "output", "kind"),
		hangs:         newDesc("rgap_output_hangs_total", "Plugins of the output killed for acknowledging nothing within hang_timeout.", "output", "kind"),
		events:        newDesc("rgap_output_events_total", "Group events (join, leave, ready, expiry) sent to the output's plugin.", "output", "kind"),
		reloadOK:      newDesc("rgap_config_last_reload_successful", "1 if the last configuration load succeeded, else 0."),
		reloadTime:    newDesc("rgap_config_last_reload_success_timestamp_seconds", "When the configuration was last loaded successfully, in seconds since the epoch."),
		build:         newDesc("rgap_build_info", "Always 1; the labels name the running build.", "version", "revision", "goversion"),
	}
}

// newDesc describes one rgap_* series with the given variable labels.
func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// collector is the prometheus.Collector reading Sources.
type collector struct {
	src *Sources
	d   *descs
}

// NewCollector returns a collector of the rgap_* series read from src.
func NewCollector(src Sources) prometheus.Collector { return &collector{src: &src, d: newDescs()} }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.d.received, c.d.accepted, c.d.acceptedByKey, c.d.dropped, c.d.members, c.d.ready,
		c.d.joins, c.d.leaves, c.d.outputUp, c.d.restarts, c.d.hangs, c.d.events, c.d.reloadOK, c.d.reloadTime, c.d.build} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if s.Sockets != nil {
		for _, so := range s.Sockets() {
			counter(c.d.received, so.Received, so.Listen)
		}
	}
	if s.Accepted != nil {
		for _, g := range s.Accepted() {
			counter(c.d.accepted, g.Accepted, groupLabel(g.ID))
		}
	}
	if s.AcceptedByKey != nil {
		for _, k := range s.AcceptedByKey() {
			counter(c.d.acceptedByKey, k.Accepted, groupLabel(k.Group), strconv.Itoa(int(k.Key)))
		}
	}
	var drops ingest.Stats
	if s.Drops != nil {
		drops = s.Drops()
	}
	for _, r := range ingest.Reasons() {
		counter(c.d.dropped, drops.Dropped[r], r.String())
	}
	if s.Groups != nil {
		for _, g := range s.Groups() {
			id := groupLabel(g.ID)
			gauge(c.d.members, float64(g.Members), id)
			gauge(c.d.ready, bit(g.Ready), id)
			counter(c.d.joins, g.Joins, id)
			counter(c.d.leaves, g.Leaves, id)
		}
	}
	if s.Outputs != nil {
		for _, o := range s.Outputs() {
			idx := strconv.Itoa(o.Index)
			gauge(c.d.outputUp, bit(o.Running), idx, o.Kind)
			counter(c.d.restarts, o.Restarts, idx, o.Kind)
			counter(c.d.hangs, o.Hung, idx, o.Kind)
			counter(c.d.events, o.EventsSent, idx, o.Kind)
		}
	}
	ok, success := true, time.Time{}
	if s.Config != nil {
		ok, success = s.Config()
	}
	gauge(c.d.reloadOK, bit(ok))
	gauge(c.d.reloadTime, float64(success.UnixNano())/1e9)
	gauge(c.d.build, 1, s.Build.Version, s.Build.Revision, s.Build.GoVersion)
}

func groupLabel(id uint64) string { return strconv.FormatUint(id, 10) }

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
