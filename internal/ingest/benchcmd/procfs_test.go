package main

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields after the command name: state ppid pgrp session tty tpgid
	// flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{"plain", "5461 (rgap) S 5455 5455 27756 0 -1 4194304 98 0 0 0 150 25 7 9 20 0 8 0 118270\n", 175, false},
		// The command name may hold spaces and ')' itself: only the
		// last ')' ends it. cutime/cstime (children) are not counted.
		{"hostile comm", "42 (a) b) (c d) R 1 1 1 0 -1 0 0 0 0 0 3 4 100 100 20 0 1 0 5", 7, false},
		{"large", "1 (x) S 0 0 0 0 0 0 0 0 0 0 18446744073709551 4 0 0", 18446744073709555, false},
		{"no paren", "1 x S 0 0 0 0 0 0 0 0 0 0 1 2", 0, true},
		{"truncated", "1 (x) S 0 0 0 0 0 0 0 0 0 0 1", 0, true},
		{"not a number", "1 (x) S 0 0 0 0 0 0 0 0 0 0 1 two 0 0", 0, true},
		{"empty", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if tt.wantErr {
				if !errors.Is(err, errProcFormat) {
					t.Fatalf("parseStatCPU = %d, %v; want an error wrapping errProcFormat", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseStatCPU = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// TestProcessCPUSelf reads this test's own CPU time after burning some, so
// the field positions are checked against the running kernel.
func TestProcessCPUSelf(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	deadline := time.Now().Add(20 * time.Second)
	for after := before; after < before+50*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stuck at %v after 20s of busy loop (read from the wrong field?)", after)
		}
		for i := range 1_000_000 {
			x ^= i
		}
		if after, err = processCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	_ = x
}

const procNetUDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
 2926: 0100007F:205A 00000000:0000 07 00000000:00000340 00:00000000 00000000     0        0 76355 2 000000007f917050 17         
14906: 00000000:CF26 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 76356 2 000000001483448e 0         
 3001: 0100007F:CF26 00000000:0000 07 00000000:00000010 00:00000000 00000000     0        0 76357 2 000000001483448f 3         
 3002: 0100007F:CF26 00000000:0000 07 00000000:00000001 00:00000000 00000000     0        0 76358 2 0000000014834490 4         
`

func TestParseProcNetUDP(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		port      uint16
		want      socketState
		wantFound bool
		wantErr   bool
	}{
		{"queued and dropped", procNetUDP, 8282, socketState{RxQueue: 0x340, Drops: 17}, true, false},
		// 0.0.0.0:53030 is not the loopback socket; the two reuseport
		// sockets on 127.0.0.1:53030 add up.
		{"reuseport", procNetUDP, 0xCF26, socketState{RxQueue: 0x11, Drops: 7}, true, false},
		{"absent", procNetUDP, 9999, socketState{}, false, false},
		{"header only", "   sl  local_address rem_address\n", 8282, socketState{}, false, false},
		{"short line", "h\n 1: 0100007F:205A 00000000:0000 07 00000000:00000000\n", 8282, socketState{}, false, true},
		{"bad queue", "h\n 1: 0100007F:205A 00000000:0000 07 00000000 00:00000000 00000000 0 0 1 2 0 0\n", 8282, socketState{}, false, true},
		{"bad drops", "h\n 1: 0100007F:205A 00000000:0000 07 0:1 00:00000000 00000000 0 0 1 2 0 x\n", 8282, socketState{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := parseProcNetUDP([]byte(tt.text), tt.port)
			if tt.wantErr {
				if !errors.Is(err, errProcFormat) {
					t.Fatalf("parseProcNetUDP = %+v, %v, %v; want an error wrapping errProcFormat", got, found, err)
				}
				return
			}
			if err != nil || found != tt.wantFound || got != tt.want {
				t.Fatalf("parseProcNetUDP = %+v, %v, %v; want %+v, %v", got, found, err, tt.want, tt.wantFound)
			}
		})
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte(procNetUDP))
	f.Add([]byte("5461 (rgap) S 5455 5455 27756 0 -1 4194304 98 0 0 0 150 25 7 9 20"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseStatCPU(b)
		parseProcNetUDP(b, 8282)
	})
}

func TestParseProcStatBusy(t *testing.T) {
	const stat = `cpu  135362 0 60313 79337 494 0 2105 0 0 0
cpu0 67316 0 29494 40299 110 0 1552 0 0 0
cpu1 68046 1 30818 39038 383 5 552 7 100 0
cpu10 1 1 1 1 1 1 1 1 1 1
intr 4820853 0 0
`
	tests := []struct {
		cpu     int
		want    uint64
		wantErr bool
	}{
		{0, 67316 + 29494 + 1552, false},
		{1, 68046 + 1 + 30818 + 5 + 552 + 7, false}, // idle, iowait and guest left out
		{10, 6, false},
		{2, 0, true},
	}
	for _, tt := range tests {
		got, err := parseProcStatBusy([]byte(stat), tt.cpu)
		if tt.wantErr {
			if !errors.Is(err, errProcFormat) {
				t.Errorf("cpu%d: = %d, %v; want errProcFormat", tt.cpu, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("cpu%d: = %d, %v; want %d", tt.cpu, got, err, tt.want)
		}
	}
	if _, err := parseProcStatBusy([]byte("cpu0 1 2 3 4\n"), 0); !errors.Is(err, errProcFormat) {
		t.Errorf("short line: %v, want errProcFormat", err)
	}
	if _, err := parseProcStatBusy([]byte("cpu0 1 2 3 4 5 6 x 8\n"), 0); !errors.Is(err, errProcFormat) {
		t.Errorf("bad value: %v, want errProcFormat", err)
	}
}
