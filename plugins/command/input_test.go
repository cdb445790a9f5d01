package command

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/golden"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// inputMembers has every case the formats must handle: v1 members (no port,
// no weight), one address on two ports, the same address and port twice
// (the later expiry wins), an IPv4-mapped address, IPv6, and a zero address.
var inputMembers = []sdk.Member{
	{Addr: netip.MustParseAddr("2001:db8::1"), Port: 443, Weight: 3, Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
	{Addr: netip.MustParseAddr("10.0.0.2"), Port: 8081, Weight: 20, Expires: time.Date(2030, 1, 2, 3, 4, 6, 500_000_000, time.UTC)},
	{Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080, Weight: 10, Expires: time.Date(2030, 1, 2, 4, 4, 7, 0, time.FixedZone("CET", 3600))},
	{Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080, Weight: 10, Expires: time.Date(2030, 1, 2, 3, 4, 1, 0, time.UTC)},
	{Addr: netip.MustParseAddr("::ffff:10.0.0.10"), Expires: time.Date(2030, 1, 2, 3, 4, 8, 0, time.UTC)},
	{Addr: netip.MustParseAddr("10.0.0.1"), Expires: time.Date(2030, 1, 2, 3, 4, 9, 0, time.UTC)},
	{},
}

// TestInputGolden compares the standard input of each format with
// testdata/input/FORMAT.golden.
func TestInputGolden(t *testing.T) {
	for _, f := range []format{formatAddress, formatAddressPort, formatJSON} {
		t.Run(string(f), func(t *testing.T) {
			es := entries(inputMembers, f)
			got := render(es, f)
			path := filepath.Join("testdata", "input", string(f)+".golden")
			golden.Check(t, path, "input", got)
			if f != formatJSON {
				return
			}
			for line := range bytes.Lines(got) {
				var v struct {
					Address      netip.Addr
					Port, Weight uint16
					Expires      time.Time
				}
				if err := json.Unmarshal(line, &v); err != nil || !v.Address.IsValid() || v.Expires.IsZero() {
					t.Errorf("line %q: %+v, %v; want a JSON object with address, port, weight, expires", line, v, err)
				}
			}
		})
	}
}

// TestEntriesSame: what counts as a change for each format. A member that
// only moved its expiry never is; a port is a change except for the
// address format, a weight only for json.
func TestEntriesSame(t *testing.T) {
	base := sdk.Member{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 1, Expires: time.Unix(100, 0)}
	later, port, weight := base, base, base
	later.Expires = time.Unix(200, 0)
	port.Port = 81
	weight.Weight = 2
	for _, tc := range []struct {
		f                         format
		later, newPort, newWeight bool // whether each counts as a change
	}{
		{formatAddress, false, false, false},
		{formatAddressPort, false, true, false},
		{formatJSON, false, true, true},
	} {
		changed := func(m sdk.Member) bool {
			a, b := entries([]sdk.Member{base}, tc.f), entries([]sdk.Member{m}, tc.f)
			return !a[0].same(b[0])
		}
		if got := [3]bool{changed(later), changed(port), changed(weight)}; got != [3]bool{tc.later, tc.newPort, tc.newWeight} {
			t.Errorf("%s: changed (expiry, port, weight) = %v, want %v", tc.f, got, [3]bool{tc.later, tc.newPort, tc.newWeight})
		}
	}
}

// TestRunFormats runs the program with each format and checks what it read,
// and that a change only the format shows (a weight, for json) runs it
// again while one it does not show (an expiry) does not.
func TestRunFormats(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	v2 := sdk.Member{Addr: netip.MustParseAddr("10.0.0.1"), Port: 8080, Weight: 5, Expires: exp}
	v1 := sdk.Member{Addr: netip.MustParseAddr("10.0.0.2"), Expires: exp}
	for _, tc := range []struct {
		f    format
		want string
	}{
		{formatAddress, "10.0.0.1\n10.0.0.2\n"},
		{formatAddressPort, "10.0.0.1:8080\n10.0.0.2:0\n"},
		{formatJSON, `{"address":"10.0.0.1","port":8080,"weight":5,"expires":"2030-01-02T03:04:05Z"}` + "\n" +
			`{"address":"10.0.0.2","port":0,"weight":0,"expires":"2030-01-02T03:04:05Z"}` + "\n"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "stdin")
			cmd := script(t, dir, `cat > "$1.tmp" && mv "$1.tmp" "$1"`+"\n")
			g := &sdktest.FakeGroups{}
			g.Set(1, true, v2, v1)
			r, sink := start(t, testOutput([]string{cmd, out}, func(s *settings) { s.format = tc.f }), g)
			sdktest.Eventually(t, "first run", func() bool { return len(sink.Find(hclog.Info, "command succeeded")) == 1 })
			if got := readFile(out); got != tc.want {
				t.Errorf("stdin %q, want %q", got, tc.want)
			}
			later := v2
			later.Expires = exp.Add(time.Minute)
			g.Set(1, true, later, v1)
			heavier := later
			heavier.Weight = 6
			g.Set(1, true, heavier, v1)
			want := 1
			if tc.f == formatJSON {
				want = 2
				sdktest.Eventually(t, "run for the new weight", func() bool { return len(sink.Find(hclog.Info, "command succeeded")) == 2 })
			}
			time.Sleep(100 * time.Millisecond) // let any further run start
			r.Stop()
			if n := len(sink.Find(hclog.Info, "command succeeded")); n != want {
				t.Errorf("%d runs, want %d", n, want)
			}
		})
	}
}
