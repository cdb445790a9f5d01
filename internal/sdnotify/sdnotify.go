// Package sdnotify tells systemd what the listener is doing, through the
// sd_notify protocol (a datagram to the socket named by NOTIFY_SOCKET), so a
// unit of Type=notify-reload knows when the listener is ready, reloading or
// stopping, and its watchdog restarts a listener that stopped making
// progress. Outside systemd (NOTIFY_SOCKET unset) every call does nothing.
//
// Messages are sent with github.com/coreos/go-systemd's daemon package, the
// implementation the Go ecosystem shares; this package adds what the
// listener needs on top: one place that knows which message goes with which
// life-cycle step, and a watchdog that is fed only while the caller says
// the process is healthy.
package sdnotify

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"
)

// Notifier sends life-cycle messages. The zero value and a nil *Notifier do
// nothing.
type Notifier struct {
	log hclog.Logger
	on  bool
}

// New returns a Notifier for this process; it is off unless NOTIFY_SOCKET is
// set. A failed send is logged at warn level: systemd then times the
// listener out, and the operator must learn why.
func New(log hclog.Logger) *Notifier {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Notifier{log: log, on: os.Getenv("NOTIFY_SOCKET") != ""}
}

// Enabled reports whether messages are sent.
func (n *Notifier) Enabled() bool { return n != nil && n.on }

func (n *Notifier) send(lines ...string) {
	if !n.Enabled() {
		return
	}
	if _, err := daemon.SdNotify(false, strings.Join(lines, "\n")); err != nil {
		n.log.Warn("sd_notify failed", "message", lines[0], "error", err)
	}
}

// Ready: start-up (or a reload) is complete; status is shown by
// `systemctl status`.
func (n *Notifier) Ready(status string) { n.send(daemon.SdNotifyReady, "STATUS="+oneLine(status)) }

// Reloading: a reload began. systemd requires the monotonic time with it.
func (n *Notifier) Reloading() {
	n.send(daemon.SdNotifyReloading, strings.TrimSpace(daemon.SdNotifyMonotonicUsec()), "STATUS=reloading the configuration")
}

// ReloadFailed: the reload was refused and the old configuration still
// runs; the service is ready again, with the reason in its status.
func (n *Notifier) ReloadFailed(reason string) {
	n.send(daemon.SdNotifyReady, "STATUS=reload failed, still running the previous configuration: "+oneLine(reason))
}

// Stopping: a stop began.
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping, "STATUS=stopping") }

// Watchdog feeds systemd's watchdog (WATCHDOG=1) at half the interval in
// WATCHDOG_USEC, but only when healthy returns true, until ctx ends. It
// returns at once when the watchdog is off. healthy must be cheap; it is the
// caller's statement that its loops are making progress.
func (n *Notifier) Watchdog(ctx context.Context, healthy func() bool) {
	if !n.Enabled() {
		return
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("systemd watchdog not used", "error", err)
		return
	}
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	missed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !healthy() {
			if !missed {
				n.log.Error("not feeding the systemd watchdog: the listener is not making progress", "watchdog", interval)
			}
			missed = true
			continue
		}
		if missed {
			n.log.Info("feeding the systemd watchdog again")
			missed = false
		}
		n.send(daemon.SdNotifyWatchdog)
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
