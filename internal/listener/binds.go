package listener

import (
	"fmt"

	"github.com/rgap-project/rgap/internal/bindcheck"
	"github.com/rgap-project/rgap/internal/config"
)

// configBinds are the sockets the configuration itself opens (listen
// entries, then http_listen), which no output may take.
func configBinds(cfg *config.Config) []bindcheck.Bind {
	return append(listenBinds(cfg.Listen), httpBinds(cfg)...)
}

// listenBinds describes the listener's sockets to the bind check, bound as
// package source binds them: an empty host dual-stack, an IP literal in its
// own family, a multicast group with SO_REUSEADDR.
func listenBinds(ls []config.Listen) []bindcheck.Bind {
	out := make([]bindcheck.Bind, 0, len(ls))
	for _, l := range ls {
		b := bindcheck.Bind{
			Owner:   fmt.Sprintf("listen entry %s at %s", l.Spec, l.Pos),
			Network: "udp",
			Address: fmt.Sprintf(":%d", l.Spec.Addr.Port()),
			Shared:  l.Spec.IsMulticast(),
		}
		if ip := l.Spec.Addr.Addr(); ip.IsValid() {
			b.Network = "udp6"
			if ip.Is4() {
				b.Network = "udp4"
			}
			b.Address = l.Spec.Addr.String()
		}
		out = append(out, b)
	}
	return out
}

// httpBinds describes the metrics server (http_listen) to the bind check.
func httpBinds(cfg *config.Config) []bindcheck.Bind {
	if cfg.HTTPListen == "" {
		return nil
	}
	return []bindcheck.Bind{{Owner: "http_listen", Network: "tcp", Address: cfg.HTTPListen}}
}
