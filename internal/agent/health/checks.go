package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// HTTP checks that a GET of URL answers 2xx or 3xx (redirects are not
// followed), or exactly Status when it is not 0.
type HTTP struct {
	URL    string
	Status int
	client *http.Client
}

// NewHTTP validates the URL (http or https, with a host) and status.
func NewHTTP(rawURL string, status int) (*HTTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("http check %q: %w", rawURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("http check %q: want an http:// or https:// URL with a host", rawURL)
	}
	if status != 0 && (status < 100 || status > 599) {
		return nil, fmt.Errorf("http check status %d: want 100 to 599", status)
	}
	return &HTTP{URL: rawURL, Status: status, client: &http.Client{
		// Each check opens its own connection, so a server that went
		// away is noticed at once rather than through a pooled socket.
		Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

func (h *HTTP) String() string { return describe("http", h.URL) }

// Run implements Check.
func (h *HTTP) Run(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, which the check's name has
		}
		return err
	}
	_ = resp.Body.Close()
	switch {
	case h.Status != 0 && resp.StatusCode != h.Status:
		return fmt.Errorf("status %d, want %d", resp.StatusCode, h.Status)
	case h.Status == 0 && (resp.StatusCode < 200 || resp.StatusCode > 399):
		return fmt.Errorf("status %d, want 2xx or 3xx", resp.StatusCode)
	}
	return nil
}

// TCP checks that a TCP connection to Addr (host:port) can be opened.
type TCP struct{ Addr string }

// NewTCP validates addr as host:port.
func NewTCP(addr string) (*TCP, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("tcp check %q: want HOST:PORT", addr)
	}
	return &TCP{Addr: addr}, nil
}

func (t *TCP) String() string { return describe("tcp", t.Addr) }

// Run implements Check.
func (t *TCP) Run(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			err = op.Err
		}
		return err
	}
	return c.Close()
}

// Exec checks that a command exits 0. It runs in its own process group,
// which is killed as a whole (SIGKILL) at the timeout, so a check that
// forked children leaves none behind.
type Exec struct{ Argv []string }

// NewExec splits cmdline on white space into the program and its
// arguments (no shell: no quoting, no variables, no globbing).
func NewExec(cmdline string) (*Exec, error) {
	argv := strings.Fields(cmdline)
	if len(argv) == 0 {
		return nil, errors.New("exec check: empty command")
	}
	return &Exec{Argv: argv}, nil
}

func (e *Exec) String() string { return describe("exec", e.Argv...) }

// waitDelay bounds how long Run waits for the command's output pipes after
// it was killed.
const waitDelay = 100 * time.Millisecond

// Run implements Check.
func (e *Exec) Run(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, e.Argv[0], e.Argv[1:]...) //nolint:gosec // running the operator's --check-exec command is the point
	ownGroup(cmd)
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("killed at the timeout: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("exited: %s", ee.ProcessState)
	}
	return err
}
