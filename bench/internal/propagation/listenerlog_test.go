package propagation

import (
	"slices"
	"testing"
)

func TestMessageSizeErrors(t *testing.T) {
	lines := []string{
		`{"@level":"info","@message":"listening"}`,
		`{"@level":"error","@message":"output plugin failed; restarting","error":"rpc error: code = ResourceExhausted desc = grpc: received message larger than max (5000000 vs. 4194304)"}`,
		`grpc: trying to send message larger than max`,
		`{"@level":"error","@message":"output plugin failed; restarting","error":"stream ended: EOF"}`,
	}
	if got, want := messageSizeErrors(lines), []string{lines[1], lines[2]}; !slices.Equal(got, want) {
		t.Errorf("messageSizeErrors = %q, want %q", got, want)
	}
}
