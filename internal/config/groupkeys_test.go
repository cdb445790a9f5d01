package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rgap-project/rgap/internal/config"
)

const (
	hexA = "8f1302643b0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431"
	hexB = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	hexC = "3132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50"
)

// TestGroupKeys: a group's keys are its psk (key 0) and its keys list, in
// that order; either alone is enough.
func TestGroupKeys(t *testing.T) {
	type idPSK struct {
		id  uint8
		hex string
	}
	tests := []struct {
		name  string
		group string
		want  []idPSK
	}{
		{"psk only (the original form)", "psk: " + hexA, []idPSK{{0, hexA}}},
		{"psk and keys", "psk: " + hexA + "\n    keys:\n      - {id: 1, psk: " + hexB + "}\n      - {id: 255, psk: " + hexC + "}",
			[]idPSK{{0, hexA}, {1, hexB}, {255, hexC}}},
		{"keys only", "keys:\n      - id: 7\n        psk: " + hexB + "\n      - id: 0\n        psk: " + hexA,
			[]idPSK{{7, hexB}, {0, hexA}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "listen: [127.0.0.1:8271]\ngroups:\n  - id: 1\n    expire: 15s\n    " + tt.group + "\n"
			cfg, err := config.Parse("rgap.yaml", []byte(src))
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, src)
			}
			var got []idPSK
			for _, k := range cfg.Groups[0].Keys {
				got = append(got, idPSK{k.ID, k.PSK.Hex()})
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("keys %v, want %v", got, tt.want)
			}
		})
	}
}

// TestGroupKeyErrorsHideThePSK: no error about a keys entry repeats more
// than the first 8 characters of a PSK.
func TestGroupKeyErrorsHideThePSK(t *testing.T) {
	src := "listen: [127.0.0.1:8271]\ngroups:\n  - id: 1\n    expire: 15s\n    keys:\n      - {id: " + hexA + ", psk: " + hexB[:60] + "}\n      - {id: 1, psk: " + hexC + "x}\n      - " + hexA + "\n"
	_, err := config.Parse("rgap.yaml", []byte(src))
	if err == nil {
		t.Fatal("Parse accepted bad keys")
	}
	for _, h := range []string{hexA, hexB, hexC} {
		if strings.Contains(err.Error(), h[:12]) {
			t.Errorf("error repeats a PSK (%s...):\n%v", h[:12], err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 4 {
		t.Errorf("%d errors, want 4 (id type, psk length, psk hex, entry type):\n%v", n, err)
	}
}
