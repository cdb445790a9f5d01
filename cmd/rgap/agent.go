package main

import (
	"context"
	"math"
	"net/netip"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/rgap-project/rgap/internal/agent"
	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
)

// defaultDestination is the multicast group and port agents announce to when
// no --dst is given; listeners listen there by default too.
const defaultDestination = "239.82.71.65:8271"

type agentFlags struct {
	group, address, psk string
	interval            time.Duration
	dsts                []string
}

func init() {
	var f agentFlags
	register(&command{
		name:     "agent",
		summary:  "Announce this host's address to a redundancy group.",
		synopsis: "-g GROUP -a ADDRESS -k PSK [-i INTERVAL] [-d DST]...",
		details: `Without --interval (or with 0) the agent sends one announcement to every
destination and exits: status 0 when every send succeeded, 1 when any
destination could not be sent to (each is named; the others were still sent
to). With an interval (10ms at least) it announces until stopped. A
destination it cannot send to, at start (no route yet, interface missing) or
later, is logged once and retried on every tick while the others keep
receiving. Status 2 means the command line itself is wrong.

The announced address must be a unicast host address: not unspecified,
multicast, 255.255.255.255 or link-local (loopback is fine).

Destinations are host:port, host:port@INTERFACE or host:port@IP/PREFIX (send
through the interface that owns an address in that prefix). IPv4 and IPv6,
unicast or multicast (for example [ff15::1]:8271@eth0).

Example:
  RGAP_ADDRESS=127.1.2.3 RGAP_PSK=$(rgap genpsk) rgap agent -g 1000 -i 5s -d 127.0.0.1:8271`,
		flags: func(fs *flagSet) {
			f = agentFlags{}
			fs.string(&f.group, flagSpec{short: "g", long: "group", arg: "ID", help: "redundancy group id (0 to 18446744073709551615)", env: "RGAP_GROUP"})
			fs.string(&f.address, flagSpec{short: "a", long: "address", arg: "IP", help: "address to announce", env: "RGAP_ADDRESS"})
			fs.string(&f.psk, flagSpec{short: "k", long: "psk", arg: "HEX", help: "group's pre-shared key, 64 hex characters", env: "RGAP_PSK"})
			fs.duration(&f.interval, flagSpec{short: "i", long: "interval", arg: "DURATION", help: "announce every DURATION (at least 10ms); 0 sends once and exits", env: "RGAP_INTERVAL"})
			fs.strings(&f.dsts, flagSpec{short: "d", long: "dst", arg: "DST", help: "destination, repeatable", def: defaultDestination})
		},
		run: func(env *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			cfg, err := f.config()
			if err != nil {
				return err
			}
			cfg.Logger = env.log.Named("agent")
			a, err := agent.New(cfg)
			if err != nil {
				return usageError{err}
			}
			defer func() { _ = a.Close() }() // closing the sending sockets loses nothing already sent
			if f.interval == 0 {
				return a.SendOnce()
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			dsts := make([]string, len(cfg.Destinations))
			for i, d := range cfg.Destinations {
				dsts[i] = d.String()
			}
			env.log.Info("announcing", "group", cfg.Group, "address", cfg.Addr.String(), "interval", f.interval.String(), "destinations", dsts)
			return a.Run(ctx)
		},
	})
}

// config validates the flags into an agent configuration; every problem is a
// usage error (exit status 2).
func (f *agentFlags) config() (agent.Config, error) {
	var cfg agent.Config
	if f.group == "" {
		return cfg, usagef("--group is required")
	}
	g, err := strconv.ParseUint(f.group, 10, 64)
	if err != nil {
		return cfg, usagef("--group: want an integer from 0 to %d, got %q", uint64(math.MaxUint64), f.group)
	}
	if f.address == "" {
		return cfg, usagef("--address (or RGAP_ADDRESS) is required")
	}
	addr, err := netip.ParseAddr(f.address)
	if err != nil {
		return cfg, usagef("--address: not an IP address: %q", f.address)
	}
	if addr.Zone() != "" {
		return cfg, usagef("--address: an announced address cannot carry a zone: %q", f.address)
	}
	if err := protocol.CheckAddress(addr); err != nil {
		return cfg, usagef("--address %q: %v", f.address, err)
	}
	if f.psk == "" {
		return cfg, usagef("--psk (or RGAP_PSK) is required; 'rgap genpsk' makes one")
	}
	if f.interval != 0 && f.interval < agent.MinInterval {
		return cfg, usagef("--interval %s: below the minimum of %s (0 sends once)", f.interval, agent.MinInterval)
	}
	psk, err := protocol.ParsePSK(f.psk)
	if err != nil {
		return cfg, usagef("--psk: %v", err)
	}
	dsts := f.dsts
	if len(dsts) == 0 {
		dsts = []string{defaultDestination}
	}
	for _, d := range dsts {
		s, err := netspec.Parse(d)
		if err != nil {
			return cfg, usagef("--dst: %v", err)
		}
		if !s.Addr.Addr().IsValid() || s.Addr.Addr().IsUnspecified() {
			return cfg, usagef("--dst %q: a destination needs an address", d)
		}
		cfg.Destinations = append(cfg.Destinations, s)
	}
	cfg.Group = g
	cfg.Addr = addr.Unmap()
	cfg.Key = protocol.NewKey(psk)
	cfg.Interval = f.interval
	return cfg, nil
}
