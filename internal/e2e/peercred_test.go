package e2e

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// TestPluginSocketRefusesOtherProcesses: a plugin serves only the listener
// that started it. Another process of the same user that finds the
// plugin's socket (here: this test) gets no answer, while the listener's
// own connection keeps working (the dns output answers).
func TestPluginSocketRefusesOtherProcesses(t *testing.T) {
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	udp, dnsPort := freeUDPPort(t, "udp4", "127.0.0.1"), freeUDPPort(t, "udp4", "127.0.0.1")
	l := plugListener(t, plugConfig(udp, "30s", "", plugDNSOutput(dnsPort)), []string{"TMPDIR=" + tmp})
	plugAnnounce(t, udp, "127.1.2.3")
	plugWaitDNS(t, dnsPort, 15*time.Second, "127.1.2.3")

	var socks []string
	_ = filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSocket != 0 {
			socks = append(socks, path)
		}
		return nil
	})
	if len(socks) == 0 {
		t.Fatalf("no plugin socket under TMPDIR %s", tmp)
	}
	for _, s := range socks {
		conn, err := grpc.NewClient("unix://"+s, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = outputv1.NewOutputServiceClient(conn).GetInfo(ctx, &outputv1.GetInfoRequest{})
		cancel()
		_ = conn.Close()
		if err == nil {
			t.Errorf("plugin socket %s answered a process other than its listener", s)
		}
	}
	// The refused connections did not disturb the listener's own.
	plugAnnounce(t, udp, "127.1.2.4")
	plugWaitDNS(t, dnsPort, 15*time.Second, "127.1.2.3", "127.1.2.4")
	_ = l
}
