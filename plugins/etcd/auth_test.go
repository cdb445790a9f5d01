package etcd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk/sdktest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// enableAuth creates the users root and rgap (allowed to write /rgap/ only)
// and turns authentication on.
func enableAuth(t *testing.T, cli *clientv3.Client, rgapPassword string) {
	t.Helper()
	ctx := context.Background()
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "root-pw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "rgap-writer"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "rgap-writer", "/rgap/", clientv3.GetPrefixRangeEnd("/rgap/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "rgap", rgapPassword); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "rgap", "rgap-writer"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
}

// startWithAuth starts an etcd server with authentication on (enableAuth,
// the user rgap's password rgapPassword); the fixture's client is logged
// in as root. The output retries refused credentials after 300ms for the
// rest of the test.
func startWithAuth(t *testing.T, rgapPassword string) *etcdFixture {
	t.Helper()
	old := retryRefused
	t.Cleanup(func() { retryRefused = old })
	retryRefused = 300 * time.Millisecond
	f := newFixture(t)
	enableAuth(t, f.cli, rgapPassword)
	root, err := clientv3.New(clientv3.Config{Endpoints: []string{f.srv.Endpoint()}, Username: "root", Password: "root-pw", Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = root.Close() })
	f.cli = root
	return f
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuthentication: with the right password (read from the file) the keys
// are published; a wrong one or a prefix the user may not write is logged as
// an error naming the user, retried, and never shows the password; a
// password fixed in the file is picked up at the next attempt.
func TestAuthentication(t *testing.T) {
	f := startWithAuth(t, "right-pw-123")
	pwFile := filepath.Join(t.TempDir(), "password")
	tests := []struct {
		name, password, prefix, wantErr string
	}{
		{"wrong password", "wrong-pw-456\n", "/rgap/", "authentication failed"},
		{"no permission", "right-pw-123\n", "/elsewhere/", "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, pwFile, tt.password)
			h := f.start(t, "lb1", "username: rgap\npassword_file: "+pwFile+"\nprefix: "+tt.prefix+"\n", 7)
			joinReady(h, 7, "10.0.0.1")
			var refused []sdktest.LogEntry
			sdktest.Eventually(t, "two refusals logged", func() bool {
				refused = refused[:0]
				for _, e := range h.Logs() {
					if strings.HasPrefix(e.Message, "etcd refused the credentials or permission") {
						refused = append(refused, e)
					}
				}
				return len(refused) >= 2
			})
			if e := refused[0]; e.Arg("username") != "rgap" || !strings.Contains(e.Arg("error"), tt.wantErr) {
				t.Errorf("refusal log = %v, want username rgap and %q", e, tt.wantErr)
			}
			// The right prefix with the right password, written to the file
			// while the output runs: the next attempt succeeds (the wrong
			// password case), or goes on being refused (no permission).
			writeFile(t, pwFile, "right-pw-123\n")
			if tt.prefix == "/rgap/" {
				sdktest.Eventually(t, "published after the password was fixed", func() bool {
					return len(f.keys(t, "/rgap/groups/7/members/lb1/")) == 1
				})
			}
			h.Stop()
			for _, e := range h.Logs() {
				if strings.Contains(e.String(), "-pw-") {
					t.Errorf("a password in the log: %v", e)
				}
			}
		})
	}
}

// TestPasswordChangedWhileConnected: the operator changes the user's
// password in etcd and in the file while the output is connected; etcd then
// refuses the old credentials, and the output connects again with the new
// password instead of retrying the old one forever.
func TestPasswordChangedWhileConnected(t *testing.T) {
	f := startWithAuth(t, "old-pw-123")
	pwFile := filepath.Join(t.TempDir(), "password")
	writeFile(t, pwFile, "old-pw-123\n")
	h := f.start(t, "lb1", "username: rgap\npassword_file: "+pwFile+"\n", 7)
	joinReady(h, 7, "10.0.0.1")
	sdktest.Eventually(t, "published", func() bool { return len(f.keys(t, "/rgap/groups/7/members/lb1/")) == 1 })

	writeFile(t, pwFile, "new-pw-789\n")
	if _, err := f.cli.UserChangePassword(context.Background(), "rgap", "new-pw-789"); err != nil {
		t.Fatal(err)
	}
	h.Join(7, addr("10.0.0.2"), time.Time{})
	h.Sync()
	deadline := time.Now().Add(15 * time.Second)
	for len(f.keys(t, "/rgap/groups/7/members/lb1/")) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the join after the password change was not published within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
