package etcd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/plugins/etcd/etcdtest"
	"github.com/rgap-project/rgap/sdk"
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
	defer func(d time.Duration) { retryRefused = d }(retryRefused)
	retryRefused = 300 * time.Millisecond

	srv := etcdtest.Start(t)
	enableAuth(t, srv.Client(), "right-pw-123")
	root, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}, Username: "root", Password: "root-pw", Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = root.Close() })

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
			h := sdktest.Start(t, Plugin, "endpoints: ["+srv.Endpoint()+"]\ninstance: lb1\nusername: rgap\npassword_file: "+pwFile+"\nprefix: "+tt.prefix+"\n", sdk.GroupInfo{ID: 7})
			h.Join(7, addr("10.0.0.1"), time.Time{})
			h.Ready(7)
			h.Sync()
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
					return len(etcdtest.Keys(t, root, "/rgap/groups/7/members/lb1/")) == 1
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
	defer func(d time.Duration) { retryRefused = d }(retryRefused)
	retryRefused = 300 * time.Millisecond

	srv := etcdtest.Start(t)
	enableAuth(t, srv.Client(), "old-pw-123")
	root, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}, Username: "root", Password: "root-pw", Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = root.Close() })
	pwFile := filepath.Join(t.TempDir(), "password")
	writeFile(t, pwFile, "old-pw-123\n")
	h := sdktest.Start(t, Plugin, "endpoints: ["+srv.Endpoint()+"]\ninstance: lb1\nusername: rgap\npassword_file: "+pwFile+"\n", sdk.GroupInfo{ID: 7})
	h.Join(7, addr("10.0.0.1"), time.Time{})
	h.Ready(7)
	h.Sync()
	sdktest.Eventually(t, "published", func() bool { return len(etcdtest.Keys(t, root, "/rgap/groups/7/members/lb1/")) == 1 })

	writeFile(t, pwFile, "new-pw-789\n")
	if _, err := root.UserChangePassword(context.Background(), "rgap", "new-pw-789"); err != nil {
		t.Fatal(err)
	}
	h.Join(7, addr("10.0.0.2"), time.Time{})
	h.Sync()
	deadline := time.Now().Add(15 * time.Second)
	for len(etcdtest.Keys(t, root, "/rgap/groups/7/members/lb1/")) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the join after the password change was not published within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
