package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Timeouts of the HTTP server: a scrape is one small request, and a client
// that trickles its request or never reads the answer must not hold a
// goroutine for ever.
const (
	readTimeout  = 10 * time.Second
	writeTimeout = 30 * time.Second
	idleTimeout  = 2 * time.Minute
	// shutdownTimeout bounds how long a stopping listener waits for
	// requests in flight.
	shutdownTimeout = 2 * time.Second
)

// Handler serves /metrics (the rgap_* series of src and those of
// gatherer, e.g. the Go and process collectors), /healthz and /readyz.
func Handler(src Sources, gatherer prometheus.Gatherer) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src))
	if src.OutputMetrics != nil {
		reg.MustRegister(pluginCollector{read: src.OutputMetrics})
	}
	gs := prometheus.Gatherers{reg}
	if gatherer != nil {
		gs = append(gs, gatherer)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gs, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		status(w, unhealthy(&src))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		status(w, notReady(&src))
	})
	return mux
}

// status answers 200 "ok" when nothing is wrong, else 503 with one line
// per problem.
func status(w http.ResponseWriter, problems []string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(problems) == 0 {
		_, _ = io.WriteString(w, "ok\n") // a client that went away is no error of ours
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, strings.Join(problems, "\n")+"\n")
}

// Server is the HTTP server of http_listen, bound but not yet serving.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen binds addr (tcp) for the endpoints of src, with the Go and
// process collectors. Nothing is served before Serve.
func Listen(addr string, src Sources) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http_listen %s: %w", addr, err)
	}
	return &Server{ln: ln, srv: &http.Server{
		Handler:           Handler(src, prometheus.DefaultGatherer),
		ReadHeaderTimeout: readTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}}, nil
}

// Addr is the bound address (with the port the kernel chose for port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close releases the address of a server that was never served.
func (s *Server) Close() error { return s.ln.Close() }

// Serve answers requests until ctx is done, then lets requests in flight
// finish (bounded) and returns nil; an error means the server failed.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http_listen %s: %w", s.ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		_ = s.srv.Close() // requests still running after the bound are cut
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http_listen %s: %w", s.ln.Addr(), err)
	}
	return nil
}
