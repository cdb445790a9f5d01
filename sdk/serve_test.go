package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/rgap-project/rgap/internal/handshake"
	"github.com/rgap-project/rgap/internal/syncbuf"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// envServeMode makes the test binary act as a plugin (see TestMain).
const envServeMode = "SDK_TEST_SERVE_MODE"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(envServeMode); mode {
	case "":
		os.Exit(m.Run())
	default:
		p := servePlugin(mode == "fail")
		p.AllCPUs = mode == "allcpus"
		sdk.Serve(p)
	}
}

type serveOutput struct{ fail bool }

func (o serveOutput) Run(ctx context.Context, env *sdk.Env) error {
	env.Log.Info("serve test running", "groups", len(env.Groups.Members(1)), "procs", runtime.GOMAXPROCS(0))
	if o.fail {
		return errors.New("serve test failure")
	}
	<-ctx.Done()
	return nil
}

func servePlugin(fail bool) sdk.Plugin {
	return sdk.Plugin{Name: "servetest", Version: "9.9", New: func(cfg *sdk.Config) (sdk.Output, error) {
		var s struct{}
		if err := cfg.Decode(&s); err != nil {
			return nil, err
		}
		return serveOutput{fail: fail}, nil
	}}
}

// hostPlugin is the host's side of the plugin set, as internal/pluginhost
// would declare it.
type hostPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (hostPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host side only")
}

func (hostPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return outputv1.NewOutputServiceClient(c), nil
}

// launch starts the test binary as a plugin through go-plugin, like the
// host does.
func launch(t *testing.T, mode string, env ...string) (*plugin.Client, outputv1.OutputServiceClient, *syncbuf.Buffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	cmd := exec.Command(os.Args[0]) //nolint:gosec // this test binary, re-run as the plugin
	cmd.Env = append(os.Environ(), append(env, envServeMode+"="+mode)...)
	logs := &syncbuf.Buffer{}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{handshake.ProtocolVersion: {handshake.PluginName: hostPlugin{}}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}),
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("starting the plugin: %v\nhost log:\n%s", err, logs)
	}
	raw, err := rpc.Dispense(handshake.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return client, raw.(outputv1.OutputServiceClient), logs
}

// startStream configures the plugin and sends it a first snapshot with two
// members (through the plugin's own gRPC codec);
// with wantAck it waits for the acknowledgement.
func startStream(t *testing.T, c outputv1.OutputServiceClient, wantAck bool) {
	t.Helper()
	ctx := context.Background()
	resp, err := c.Configure(ctx, &outputv1.ConfigureRequest{
		Spec:   &outputv1.OutputSpec{File: "rgap.yaml"},
		Groups: []*outputv1.GroupInfo{{Id: 1}},
	})
	if err != nil || len(resp.GetDiagnostics()) > 0 {
		t.Fatalf("Configure: %v %v", resp, err)
	}
	st, err := c.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := &outputv1.GroupState{Id: 1, Members: []*outputv1.Member{member(1), {Address: netip.MustParseAddr("2001:db8::1").AsSlice()}}}
	if err := st.Send(snapshotMsg(1, true, true, first)); err != nil {
		t.Fatal(err)
	}
	if !wantAck {
		return
	}
	if ack, err := st.Recv(); err != nil || ack.GetAckSeq() != 1 {
		t.Fatalf("ack of the first snapshot: %v %v", ack, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool, logs *syncbuf.Buffer) {
	t.Helper()
	deadline := time.Now().Add(sdktest.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v; host log:\n%s", what, sdktest.Timeout, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeRefusesToRunByHand(t *testing.T) {
	cmd := exec.Command(os.Args[0]) //nolint:gosec // this test binary, re-run as the plugin
	cmd.Env = append(os.Environ(), envServeMode+"=ok")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("run by hand: %v; want exit status 1", err)
	}
	msg := stderr.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, `rgap output plugin "servetest"`) || !strings.Contains(msg, "cannot be run by hand") {
		t.Fatalf("stderr = %q; want one line explaining the plugin is started by the listener", msg)
	}
	if stdout.Len() != 0 {
		t.Fatalf("stdout = %q; want nothing", stdout.String())
	}
}

func TestServeOverGoPlugin(t *testing.T) {
	client, c, logs := launch(t, "ok", handshake.EnvLogLevel+"=debug")
	info, err := c.GetInfo(context.Background(), &outputv1.GetInfoRequest{})
	if err != nil || info.GetName() != "servetest" || info.GetPluginVersion() != "9.9" {
		t.Fatalf("GetInfo = %v, %v", info, err)
	}
	diag, err := c.ValidateConfig(context.Background(), &outputv1.ValidateConfigRequest{
		Spec: &outputv1.OutputSpec{Yaml: []byte("\n\nbogus: 1\n"), File: "rgap.yaml", Line: 3},
	})
	if err != nil || len(diag.GetDiagnostics()) != 1 || diag.GetDiagnostics()[0].GetKey() != "bogus" || diag.GetDiagnostics()[0].GetLine() != 3 {
		t.Fatalf("ValidateConfig = %v, %v; want one diagnostic for key bogus at line 3", diag, err)
	}
	startStream(t, c, true)
	// The plugin's JSON log line reaches the host's log with its level and
	// fields: go-plugin parsed it.
	waitFor(t, "the plugin's log line", func() bool {
		return regexp.MustCompile(`\[INFO\] +\S+: serve test running: .*\bgroups=2\b`).MatchString(logs.String())
	}, logs)
	ctx, cancel := context.WithTimeout(context.Background(), sdktest.Timeout)
	defer cancel()
	if _, err := c.Stop(ctx, &outputv1.StopRequest{}); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	client.Kill()
	if !client.Exited() {
		t.Fatal("the plugin process is still running after Kill")
	}
}

// TestServeSetsGOMAXPROCS: one scheduler thread unless the plugin asks for
// every CPU or its environment sets GOMAXPROCS.
func TestServeSetsGOMAXPROCS(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set for the test process itself")
	}
	tests := []struct {
		name, mode string
		env        []string
		want       int
	}{
		{"default", "ok", nil, 1},
		{"all CPUs", "allcpus", nil, runtime.GOMAXPROCS(0)},
		{"operator's value", "ok", []string{"GOMAXPROCS=3"}, 3},
		{"operator's value, all CPUs", "allcpus", []string{"GOMAXPROCS=3"}, 3},
		{"host default", "ok", []string{"GOMAXPROCS=1", handshake.EnvHostGOMAXPROCS + "=1"}, 1},
		{"host default, all CPUs", "allcpus", []string{"GOMAXPROCS=1", handshake.EnvHostGOMAXPROCS + "=1"}, runtime.GOMAXPROCS(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, c, logs := launch(t, tc.mode, tc.env...)
			defer client.Kill()
			startStream(t, c, true)
			want := fmt.Sprintf(`serve test running: .*\bprocs=%d\b`, tc.want)
			waitFor(t, "the plugin's log line with procs", func() bool {
				return regexp.MustCompile(want).MatchString(logs.String())
			}, logs)
		})
	}
}

func TestServeExitsWhenRunFails(t *testing.T) {
	client, c, logs := launch(t, "fail")
	// Run fails as soon as it starts, which may be before the ack is out.
	startStream(t, c, false)
	waitFor(t, "the plugin's exit", client.Exited, logs)
	out := logs.String()
	if !strings.Contains(out, "serve test failure") || !strings.Contains(out, "exit status 1") {
		t.Fatalf("host log does not show Run's error and exit status 1:\n%s", out)
	}
}

func TestServeExitsWhenParentIsGone(t *testing.T) {
	// A stand-in for the host: the plugin watches the PID it is given.
	host := exec.Command("sleep", "60")
	if err := host.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	client, _, logs := launch(t, "ok", handshake.EnvParentPID+"="+strconv.Itoa(host.Process.Pid))
	if client.Exited() {
		t.Fatal("the plugin exited while its host was alive")
	}
	_ = host.Process.Kill()
	_ = host.Wait()
	waitFor(t, "the plugin's exit after its host died", client.Exited, logs)
	if !strings.Contains(logs.String(), "is gone") {
		t.Fatalf("host log does not say why the plugin exited:\n%s", logs)
	}
}
