// Package etcdtest runs a real single-member etcd server (the etcd binary of
// Debian's etcd-server package, installed by .ci/deps) on loopback ports in
// a test's temporary directory, for the etcd output's tests and the
// end-to-end tests. A test is skipped, saying why, when the binary is absent.
package etcdtest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Server is one etcd server; Stop and Start keep its data directory and
// ports, like an operator's restart.
type Server struct {
	t         testing.TB
	bin       string
	dir       string
	client    string // http://127.0.0.1:port
	peer      string
	mu        sync.Mutex
	cmd       *exec.Cmd
	done      chan struct{}
	logFile   *os.File
	extraArgs []string
	tls       *tls.Config // for the test's own clients; nil: plain
}

// Binary returns the path of the etcd server binary, or "" when absent.
func Binary() string {
	if p := os.Getenv("RGAP_ETCD_BIN"); p != "" {
		return p
	}
	for _, p := range []string{"etcd", "/usr/bin/etcd", "/usr/sbin/etcd"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// Start starts an etcd server and waits until it answers. The server is
// stopped when the test ends.
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	return start(t, nil, extraArgs)
}

// StartTLS starts an etcd server that serves its clients over TLS with the
// server certificate certFile/keyFile and demands client certificates
// signed by the CA in caFile; clientTLS is what the test's own clients
// (Client, the start-up probe) present.
func StartTLS(t testing.TB, certFile, keyFile, caFile string, clientTLS *tls.Config) *Server {
	t.Helper()
	return start(t, clientTLS, []string{"--cert-file", certFile, "--key-file", keyFile, "--trusted-ca-file", caFile, "--client-cert-auth"})
}

func start(t testing.TB, clientTLS *tls.Config, extraArgs []string) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("etcd server binary not found (install Debian's etcd-server package: .ci/deps does), skipping the test that needs a real etcd")
	}
	dir := t.TempDir()
	scheme := "http://"
	if clientTLS != nil {
		scheme = "https://"
	}
	s := &Server{t: t, bin: bin, dir: dir, extraArgs: extraArgs, tls: clientTLS,
		client: scheme + "127.0.0.1:" + strconv.Itoa(freePort(t)),
		peer:   "http://127.0.0.1:" + strconv.Itoa(freePort(t))}
	lf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.logFile = lf
	t.Cleanup(func() {
		s.Stop()
		_ = lf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(lf.Name()); err == nil {
				t.Logf("etcd log (last 4 KiB):\n%s", tail(b, 4096))
			}
		}
	})
	s.Start()
	return s
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Endpoint is the server's client URL.
func (s *Server) Endpoint() string { return s.client }

// Start starts the (stopped) server again and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	args := append([]string{
		"--name", "rgap-test",
		"--data-dir", filepath.Join(s.dir, "data"),
		"--listen-client-urls", s.client, "--advertise-client-urls", s.client,
		"--listen-peer-urls", s.peer, "--initial-advertise-peer-urls", s.peer,
		"--initial-cluster", "rgap-test=" + s.peer,
		"--log-outputs", "stderr",
	}, s.extraArgs...)
	cmd := exec.Command(s.bin, args...) //nolint:gosec // the etcd binary with test arguments
	cmd.Stdout, cmd.Stderr = s.logFile, s.logFile
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting etcd: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() { _ = cmd.Wait(); close(done) }()
	cli := s.clientLocked()
	defer func() { _ = cli.Close() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "health-probe")
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			s.t.Fatalf("etcd exited at start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("etcd did not answer within 20s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10s).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Client returns a client of the server, closed when the test ends.
func (s *Server) Client() *clientv3.Client {
	s.t.Helper()
	cli := s.clientLocked()
	s.t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func (s *Server) clientLocked() *clientv3.Client {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.client}, TLS: s.tls, Logger: zap.NewNop()})
	if err != nil {
		s.t.Fatalf("etcd client: %v", err)
	}
	return cli
}

// Dump returns every key under prefix and its value, as "key=value" lines
// sorted by key.
func Dump(t testing.TB, cli *clientv3.Client, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		t.Fatalf("reading %s: %v", prefix, err)
	}
	var b strings.Builder
	for _, kv := range resp.Kvs {
		fmt.Fprintf(&b, "%s=%s\n", kv.Key, kv.Value)
	}
	return b.String()
}

// Keys returns the keys under prefix, sorted.
func Keys(t testing.TB, cli *clientv3.Client, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		t.Fatalf("reading %s: %v", prefix, err)
	}
	keys := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	return keys
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
