package config_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/golden"
	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
)

// TestBadGolden loads every testdata/bad/*.yaml and compares the complete
// error text with the matching .err file (go test -update rewrites them).
func TestBadGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs found: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(file)
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want an error; config: %+v", file, cfg)
			}
			if cfg != nil {
				t.Errorf("Load(%s) returned a config together with an error", file)
			}
			got := err.Error() + "\n"
			golden.Check(t, strings.TrimSuffix(file, ".yaml")+".err", "error text", []byte(got))
			// Every line of the text is one *Error naming this file.
			for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
				if !strings.HasPrefix(line, file) {
					t.Errorf("error line does not start with the file name %q: %s", file, line)
				}
			}
			var e *config.Error
			if !errors.As(err, &e) {
				t.Errorf("error is not a *config.Error: %T", err)
			}
		})
	}
}

// TestBadSentinels checks that callers can tell kinds of problems apart.
func TestBadSentinels(t *testing.T) {
	tests := []struct {
		file string
		want []error
	}{
		{"unknown_key_group", []error{config.ErrUnknownKey}},
		{"wrong_types", []error{config.ErrType}},
		{"bad_psk", []error{config.ErrValue, protocol.ErrPSK}},
		{"missing_required", []error{config.ErrMissingKey}},
		{"durations", []error{config.ErrValue, config.ErrType}},
		{"duplicate_group", []error{config.ErrDuplicate}},
		{"duplicate_key", []error{config.ErrDuplicate}},
		{"duplicate_listen", []error{config.ErrDuplicate}},
		{"listen_missing", []error{config.ErrMissingKey}},
		{"empty", []error{config.ErrEmpty}},
		{"comments_only", []error{config.ErrEmpty}},
		{"null_document", []error{config.ErrEmpty}},
		{"top_list", []error{config.ErrType}},
		{"multi_doc", []error{config.ErrMultipleDocuments}},
		{"syntax", []error{config.ErrSyntax}},
		{"kind_path", []error{config.ErrValue}},
		{"alias_bomb", []error{config.ErrValue}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := config.Load(filepath.Join("testdata/bad", tt.file+".yaml"))
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("errors.Is(err, %v) = false; err:\n%v", want, err)
				}
			}
		})
	}
	// A listen problem carries netspec's explanation, with what it quotes
	// from the file cut short.
	_, err := config.Load("testdata/bad/listen_bad_spec.yaml")
	_, perr := netspec.Parse("localhost:8271")
	var e *config.Error
	if err == nil || perr == nil || !errors.As(err, &e) {
		t.Fatalf("listen error %v, netspec error %v", err, perr)
	}
	if !strings.Contains(err.Error(), "host must be an IP address") {
		t.Errorf("listen error %v does not explain the netspec error %v", err, perr)
	}
}

// TestErrorStructure checks the fields of the first *Error.
func TestErrorStructure(t *testing.T) {
	_, err := config.Load("testdata/bad/unknown_key_group.yaml")
	var e *config.Error
	if !errors.As(err, &e) {
		t.Fatalf("not a *config.Error: %v", err)
	}
	want := config.Pos{File: "testdata/bad/unknown_key_group.yaml", Line: 7, Column: 5}
	if e.Pos != want || e.Key != "groups[0]" {
		t.Errorf("got Pos %v Key %q, want %v and groups[0]", e.Pos, e.Key, want)
	}
	if got := err.Error(); got != `testdata/bad/unknown_key_group.yaml:7:5: groups[0]: unknown key "pskk" (did you mean psk?)` {
		t.Errorf("error text %q", got)
	}
}

// TestNoSecretInErrors makes sure no message repeats a PSK, however it is
// malformed or wherever it is misplaced: no nine characters of it in a row.
func TestNoSecretInErrors(t *testing.T) {
	const misplaced = "5ec2e7c0ffee5ec2e7c0ffee5ec2e7c0ffee5ec2e7c0ffee5ec2e7c0ffee5ec2"
	for _, tt := range []struct {
		file    string
		secrets []string
	}{
		{"bad_psk", []string{"8f1302643b0809279794c5cc47f236", "zz1302643b0809"}},
		{"wrong_types", []string{"8f1302643b0809279794c5cc47f236"}},
		{"many_errors", []string{"8f1302643b0809279794c5cc47f236"}},
		{"unknown_key_group", []string{"8f1302643b0809279794c5cc47f236"}},
		{"psk_misplaced", []string{misplaced}},
		{"psk_anchor", []string{misplaced}},
	} {
		_, err := config.Load(filepath.Join("testdata/bad", tt.file+".yaml"))
		if err == nil {
			t.Fatalf("%s: no error", tt.file)
		}
		for _, secret := range tt.secrets {
			for i := 0; i+9 <= len(secret); i++ {
				if w := secret[i : i+9]; strings.Contains(err.Error(), w) {
					t.Errorf("%s: error text contains PSK material %q:\n%v", tt.file, w, err)
					break
				}
			}
		}
	}
}

// TestErrorsQuoteAtMost8Characters checks every message of every bad
// configuration: whatever it quotes from the file is cut after 8
// characters (and marked "..."), so no value, key or anchor written there
// is ever repeated whole.
func TestErrorsQuoteAtMost8Characters(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs found: %v", err)
	}
	for _, file := range files {
		_, err := config.Load(file)
		if err == nil {
			t.Fatalf("%s: no error", file)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			line = strings.TrimPrefix(line, file) // the path is not a value
			for i := 0; i < len(line); i++ {
				if line[i] != '"' && line[i] != '\'' {
					continue
				}
				end := strings.IndexByte(line[i+1:], line[i])
				if end < 0 {
					break
				}
				q := line[i+1 : i+1+end]
				if n := utf8.RuneCountInString(strings.TrimSuffix(q, "...")); n > 8 {
					t.Errorf("%s: quotes %d characters: %s", file, n, line)
				}
				i += end + 1
			}
		}
	}
}
