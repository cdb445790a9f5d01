package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// clientConfig builds the etcd client's configuration, reading the TLS files
// and the password file now, so that a certificate or a password rotated on
// disk is picked up at the next connection attempt. Errors name the file,
// never its content.
func (s *settings) clientConfig() (clientv3.Config, error) {
	cfg := clientv3.Config{
		Endpoints:            s.endpoints,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		PermitWithoutStream:  true,
		Logger:               zap.NewNop(), // failures are reported by the output itself
		// gRPC's default reconnection backoff grows to 120s: after a long
		// outage the output would notice etcd's return minutes late.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: retryMin, Multiplier: 1.6, Jitter: 0.2, MaxDelay: retryMax},
			MinConnectTimeout: requestTimeout,
		})},
	}
	if s.tls {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.caFile != "" {
			pem, err := os.ReadFile(s.caFile)
			if err != nil {
				return cfg, fmt.Errorf("ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return cfg, fmt.Errorf("ca_file %s: no PEM certificate in it", s.caFile)
			}
			tc.RootCAs = pool
		}
		if s.certFile != "" {
			cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
			if err != nil {
				return cfg, fmt.Errorf("cert_file %s and key_file %s: %w", s.certFile, s.keyFile, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		cfg.TLS = tc
	}
	if s.username != "" {
		b, err := os.ReadFile(s.passwordFile)
		if err != nil {
			return cfg, fmt.Errorf("password_file: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return cfg, fmt.Errorf("password_file %s is empty", s.passwordFile)
		}
		cfg.Username, cfg.Password = s.username, pw
	}
	return cfg, nil
}

// isAuthError reports whether etcd refused the credentials or the
// permission, which retrying soon will not cure.
func isAuthError(err error) bool {
	for _, e := range []error{
		rpctypes.ErrAuthFailed, rpctypes.ErrPermissionDenied, rpctypes.ErrInvalidAuthToken,
		rpctypes.ErrUserEmpty, rpctypes.ErrAuthOldRevision, rpctypes.ErrUserNotFound,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return true
	}
	return false
}
