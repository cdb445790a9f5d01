package peercred_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/rgap-project/rgap/internal/peercred"
)

func TestOfUnixSocket(t *testing.T) {
	a, b := socketPair(t)
	for _, c := range []net.Conn{a, b} {
		p, err := peercred.Of(c)
		if err != nil {
			t.Fatal(err)
		}
		if p.PID != os.Getpid() || p.UID != os.Getuid() {
			t.Errorf("Of = %+v, want pid %d uid %d", p, os.Getpid(), os.Getuid())
		}
	}
}

func TestOfRefusesTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := peercred.Of(c); !errors.Is(err, peercred.ErrPeer) || !strings.Contains(err.Error(), "not a unix socket") {
		t.Errorf("Of(tcp) = %v, want ErrPeer saying it is not a unix socket", err)
	}
}

func TestExpect(t *testing.T) {
	me := peercred.Peer{PID: 4242, UID: os.Getuid()}
	tests := []struct {
		name string
		pid  int
		peer peercred.Peer
		want string // "" = accepted
	}{
		{"expected process", 4242, me, ""},
		{"any process of the user", 0, me, ""},
		{"another process", 4343, me, "process 4242 is at the other end, want 4343"},
		{"another user", 0, peercred.Peer{PID: 4242, UID: os.Getuid() + 1}, "runs as uid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := peercred.Expect(func() int { return tt.pid })(tt.peer)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (!errors.Is(err, peercred.ErrPeer) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want ErrPeer containing %q", err, tt.want)
			}
		})
	}
}

func TestExpectTree(t *testing.T) {
	me := peercred.Peer{PID: os.Getpid(), UID: os.Getuid()}
	tests := []struct {
		name string
		root int
		ok   bool
	}{
		{"the process itself", os.Getpid(), true},
		{"its parent is an ancestor", os.Getppid(), true},
		{"init is everyone's ancestor", 1, true},
		{"any process of the user", 0, true},
		{"not an ancestor", os.Getpid() + 100000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := peercred.ExpectTree(func() int { return tt.root })(me)
			if tt.ok != (err == nil) {
				t.Errorf("err = %v, want accepted %v", err, tt.ok)
			}
		})
	}
}

// TestGRPC runs a real gRPC server and client over a unix socket: calls
// pass when both ends expect this process, and fail on both sides when
// either expects another.
func TestGRPC(t *testing.T) {
	self := func() int { return os.Getpid() }
	other := func() int { return os.Getpid() + 100000 }
	tests := []struct {
		name           string
		server, client func() int
		ok             bool
	}{
		{"both expect each other", self, self, true},
		{"server expects another client", other, self, false},
		{"client expects another server", self, other, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			srv := grpc.NewServer(grpc.Creds(peercred.New(peercred.Expect(tt.server))))
			healthpb.RegisterHealthServer(srv, health.NewServer())
			go func() { _ = srv.Serve(ln) }()
			defer srv.Stop()

			conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(peercred.New(peercred.Expect(tt.client))))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if tt.ok && err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("call passed, want it refused")
			}
		})
	}
}

// TestPlainClientRefused: a client that does no peer check (as any other
// local process would connect) is still refused by a server that expects
// a different process.
func TestPlainClientRefused(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(peercred.New(peercred.Expect(func() int { return 1 }))))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("a client that is not the expected process was served")
	}
}

func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "p")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	a, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return a, b
}
