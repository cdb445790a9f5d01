package main

import (
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/agent/health"
)

// healthFlags are the agent's health check options. The numbers stay
// strings so that "given" can be told from "zero".
type healthFlags struct {
	http, tcp, exec        []string
	httpStatus, rise, fall string
	interval, timeout      time.Duration
	initHealthy            boolValue
}

func (h *healthFlags) register(fs *flagSet) {
	*h = healthFlags{interval: health.DefaultInterval, timeout: health.DefaultTimeout}
	fs.strings(&h.http, flagSpec{long: "check-http", arg: "URL", help: "healthy while a GET of URL answers 2xx or 3xx; repeatable", env: "RGAP_CHECK_HTTP"})
	fs.string(&h.httpStatus, flagSpec{long: "check-http-status", arg: "N", help: "--check-http wants exactly status N", env: "RGAP_CHECK_HTTP_STATUS"})
	fs.strings(&h.tcp, flagSpec{long: "check-tcp", arg: "HOST:PORT", help: "healthy while a TCP connection to HOST:PORT opens; repeatable", env: "RGAP_CHECK_TCP"})
	fs.strings(&h.exec, flagSpec{long: "check-exec", arg: `"CMD ARGS"`, help: "healthy while CMD exits 0 (split on spaces, no shell); repeatable", env: "RGAP_CHECK_EXEC"})
	fs.duration(&h.interval, flagSpec{long: "check-interval", arg: "DURATION", help: "time between check rounds", env: "RGAP_CHECK_INTERVAL", def: health.DefaultInterval.String()})
	fs.duration(&h.timeout, flagSpec{long: "check-timeout", arg: "DURATION", help: "time each check may take", env: "RGAP_CHECK_TIMEOUT", def: health.DefaultTimeout.String()})
	fs.string(&h.rise, flagSpec{long: "rise", arg: "N", help: "passing rounds in a row that make the agent healthy", env: "RGAP_CHECK_RISE", def: strconv.Itoa(health.DefaultRise)})
	fs.string(&h.fall, flagSpec{long: "fall", arg: "N", help: "failing rounds in a row that make the agent unhealthy", env: "RGAP_CHECK_FALL", def: strconv.Itoa(health.DefaultFall)})
	fs.add(flagSpec{long: "check-init-healthy", help: "start healthy rather than after --rise passing rounds", env: "RGAP_CHECK_INIT_HEALTHY"}, &h.initHealthy)
}

// monitor builds the health monitor the flags describe, nil when no check
// is given; every problem is a usage error naming the option.
func (h *healthFlags) monitor(announceInterval time.Duration, log hclog.Logger) (*health.Monitor, error) {
	cfg := health.Config{Interval: h.interval, Timeout: h.timeout, InitHealthy: bool(h.initHealthy), Logger: log}
	status := 0
	if h.httpStatus != "" {
		n, err := strconv.Atoi(h.httpStatus)
		if err != nil || n < 100 || n > 599 {
			return nil, usagef("--check-http-status: want an HTTP status from 100 to 599, got %q", h.httpStatus)
		}
		if len(h.http) == 0 {
			return nil, usagef("--check-http-status needs --check-http")
		}
		status = n
	}
	for _, u := range h.http {
		c, err := health.NewHTTP(u, status)
		if err != nil {
			return nil, usagef("--check-http: %v", err)
		}
		cfg.Checks = append(cfg.Checks, c)
	}
	for _, a := range h.tcp {
		c, err := health.NewTCP(a)
		if err != nil {
			return nil, usagef("--check-tcp: %v", err)
		}
		cfg.Checks = append(cfg.Checks, c)
	}
	for _, e := range h.exec {
		c, err := health.NewExec(e)
		if err != nil {
			return nil, usagef("--check-exec: %v", err)
		}
		cfg.Checks = append(cfg.Checks, c)
	}
	for _, n := range []struct {
		name, val string
		set       *int
	}{{"--rise", h.rise, &cfg.Rise}, {"--fall", h.fall, &cfg.Fall}} {
		v, err := strconv.Atoi(n.val)
		if err != nil || v < 1 {
			return nil, usagef("%s: want a positive integer, got %q", n.name, n.val)
		}
		*n.set = v
	}
	if len(cfg.Checks) == 0 {
		return nil, nil
	}
	if announceInterval == 0 {
		return nil, usagef("health checks need --interval: sending once has nothing to gate")
	}
	if h.interval == 0 || h.timeout == 0 {
		return nil, usagef("--check-interval and --check-timeout must be positive")
	}
	m, err := health.New(cfg)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return m, nil
}

// boolValue is an option that takes no argument (--check-init-healthy) or
// an explicit =true/=false; its environment variable takes the same words.
type boolValue bool

func (v *boolValue) String() string { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) IsBoolFlag() bool { return true }
