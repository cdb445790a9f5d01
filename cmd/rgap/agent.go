package main

import (
	"context"
	"math"
	"net/netip"
	"os"
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
	// Protocol v2 and drain; the numbers stay strings so that "given" can
	// be told from "zero".
	protocol, port, weight, keyID, drainFile string
	health                                   healthFlags
}

func init() {
	var f agentFlags
	register(&command{
		name:     "agent",
		summary:  "Announce this host's address to a redundancy group.",
		synopsis: "-g GROUP -a ADDRESS -k PSK [-i INTERVAL] [-d DST]... [--protocol 2 [--port N] [--weight N] [--key-id N]] [--drain-file PATH] [--check-http URL | --check-tcp HOST:PORT | --check-exec CMD]...",
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

--protocol 2 sends protocol v2, which can carry --port, --weight and
--key-id; those options are refused with protocol 1, the default (what the
original listener understands). Stopped by SIGTERM or SIGINT, a v2 agent
sends a signed leave (three copies, 5ms apart) to every destination, so
listeners drop it at once instead of at expiry, and exits 0.

Each wait between announcements is the interval +-10%, at random. While the
--drain-file exists the agent does not announce (a v2 agent leaves on the
way in); removing it resumes announcing at once (the file is looked at
every tick and at least every 250ms). SIGUSR1 flips a second drain switch;
the agent announces only when both are off.

Health checks (--check-http, --check-tcp, --check-exec; each repeatable)
run every --check-interval, each within --check-timeout; a round passes when
all pass. --rise passing rounds in a row make the agent healthy, --fall
failing ones unhealthy; it starts unhealthy unless --check-init-healthy.
Unhealthy is like drain: no announcements, a v2 agent leaves on the way in.
--check-exec is split on spaces and run without a shell, in its own process
group, killed with the group at the timeout. An HTTP check does not follow
redirects.

Example:
  RGAP_ADDRESS=127.1.2.3 RGAP_PSK=$(rgap genpsk) rgap agent -g 1000 -i 5s -d 127.0.0.1:8271`,
		flags: func(fs *flagSet) {
			f = agentFlags{}
			fs.string(&f.group, flagSpec{short: "g", long: "group", arg: "ID", help: "redundancy group id (0 to 18446744073709551615)", env: "RGAP_GROUP"})
			fs.string(&f.address, flagSpec{short: "a", long: "address", arg: "IP", help: "address to announce", env: "RGAP_ADDRESS"})
			fs.string(&f.psk, flagSpec{short: "k", long: "psk", arg: "HEX", help: "group's pre-shared key, 64 hex characters", env: "RGAP_PSK"})
			fs.duration(&f.interval, flagSpec{short: "i", long: "interval", arg: "DURATION", help: "announce every DURATION (at least 10ms); 0 sends once and exits", env: "RGAP_INTERVAL"})
			fs.strings(&f.dsts, flagSpec{short: "d", long: "dst", arg: "DST", help: "destination, repeatable", def: defaultDestination})
			fs.string(&f.protocol, flagSpec{long: "protocol", arg: "1|2", help: "wire protocol version", env: "RGAP_PROTOCOL", def: "1"})
			fs.string(&f.port, flagSpec{long: "port", arg: "N", help: "service port to announce, 0 to 65535 (0: none); protocol 2", env: "RGAP_PORT"})
			fs.string(&f.weight, flagSpec{long: "weight", arg: "N", help: "relative weight, 0 to 65535 (0: the listener's default); protocol 2", env: "RGAP_WEIGHT"})
			fs.string(&f.keyID, flagSpec{long: "key-id", arg: "N", help: "id of the group key --psk is, 0 to 255; protocol 2", env: "RGAP_KEY_ID"})
			fs.string(&f.drainFile, flagSpec{long: "drain-file", arg: "PATH", help: "do not announce while PATH exists; needs --interval", env: "RGAP_DRAIN_FILE"})
			f.health.register(fs)
		},
		run: f.run,
	})
}

// run runs the agent the flags describe: one announcement to every
// destination without an interval, else announcements until SIGINT or
// SIGTERM, with SIGUSR1 flipping the drain switch.
func (f *agentFlags) run(env *cmdEnv, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected arguments %q", args)
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	cfg.Logger = env.log.Named("agent")
	if cfg.Health, err = f.health.monitor(f.interval, env.log.Named("health")); err != nil {
		return err
	}
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
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go func() {
		for {
			select {
			case <-usr1:
				a.ToggleDrain()
			case <-ctx.Done():
				return
			}
		}
	}()
	dsts := make([]string, len(cfg.Destinations))
	for i, d := range cfg.Destinations {
		dsts[i] = d.String()
	}
	env.log.Info("announcing", "group", cfg.Group, "address", cfg.Addr.String(), "interval", f.interval.String(), "destinations", dsts,
		"protocol", int(cfg.Version>>8), "port", cfg.Port, "weight", cfg.Weight, "key_id", cfg.KeyID)
	return a.Run(ctx)
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
	if err := f.v2Config(&cfg); err != nil {
		return cfg, err
	}
	if f.drainFile != "" && f.interval == 0 {
		return cfg, usagef("--drain-file needs --interval: sending once has nothing to drain")
	}
	cfg.DrainFile = f.drainFile
	return cfg, nil
}

// v2Config reads --protocol and the options only protocol 2 can send; any
// of these given with protocol 1 is a usage error naming it.
func (f *agentFlags) v2Config(cfg *agent.Config) error {
	switch f.protocol {
	case "1", "":
		cfg.Version = protocol.Version
	case "2":
		cfg.Version = protocol.VersionV2
	default:
		return usagef("--protocol: want 1 or 2, got %q", f.protocol)
	}
	for _, o := range []struct {
		name, val string
		bits      int
		set       func(uint64)
	}{
		{"--port", f.port, 16, func(n uint64) { cfg.Port = uint16(n) }},
		{"--weight", f.weight, 16, func(n uint64) { cfg.Weight = uint16(n) }},
		{"--key-id", f.keyID, 8, func(n uint64) { cfg.KeyID = uint8(n) }},
	} {
		if o.val == "" {
			continue
		}
		if cfg.Version != protocol.VersionV2 {
			return usagef("%s needs --protocol 2: protocol 1 cannot carry it", o.name)
		}
		n, err := strconv.ParseUint(o.val, 10, o.bits)
		if err != nil {
			return usagef("%s: want an integer from 0 to %d, got %q", o.name, uint64(1)<<o.bits-1, o.val)
		}
		o.set(n)
	}
	return nil
}
