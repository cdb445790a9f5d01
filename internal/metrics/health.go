package metrics

import (
	"fmt"
	"time"
)

// unhealthy lists the listen entries whose socket is not open; none means
// /healthz answers 200.
func unhealthy(src *Sources) []string {
	var out []string
	if src.Sockets == nil {
		return nil
	}
	for _, s := range src.Sockets() {
		if !s.Open {
			out = append(out, fmt.Sprintf("listen %s: socket closed", s.Listen))
		}
	}
	return out
}

// notReady lists, one line each, the groups that are not ready and the
// outputs whose plugin is not running; none means /readyz answers 200.
func notReady(src *Sources) []string {
	var out []string
	if src.Groups != nil {
		for _, g := range src.Groups() {
			switch {
			case g.Ready:
			case !g.Started:
				out = append(out, fmt.Sprintf("group %d: not ready (not started)", g.ID))
			default:
				out = append(out, fmt.Sprintf("group %d: not ready (readiness delay %s left)", g.ID, ceilSecond(g.ReadyIn)))
			}
		}
	}
	if src.Outputs != nil {
		for _, o := range src.Outputs() {
			if o.Running {
				continue
			}
			what := "starting"
			switch {
			case o.Starts == 0 && o.LastError != "":
				// Refused before any start (a bad kind or pin): it is
				// not retried.
				what = "not started: " + o.LastError
			case o.ConsecutiveFailures > 0:
				what = fmt.Sprintf("restarting, attempt %d", o.ConsecutiveFailures+1)
			}
			out = append(out, fmt.Sprintf("output %d (%s): %s", o.Index, o.Kind, what))
		}
	}
	return out
}

// ceilSecond rounds a remaining delay up to whole seconds, so that "0s
// left" is never shown for a group that is not ready yet.
func ceilSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}
