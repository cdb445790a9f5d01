package protocol

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// KeySize is the length of a PSK in bytes.
const KeySize = 32

// redacted is what every formatting of a secret prints instead of the secret.
const redacted = "[redacted]"

// ErrPSK is wrapped by every error from ParsePSK, so callers can tell a
// malformed key from other configuration errors with errors.Is.
var ErrPSK = errors.New("invalid PSK")

// pskError is a ParsePSK error: its message says what is wrong with the
// input (never the input itself) and it unwraps to ErrPSK.
type pskError struct{ msg string }

func (e *pskError) Error() string { return e.msg }
func (e *pskError) Unwrap() error { return ErrPSK }

// PSK is a 32-byte pre-shared key; each redundancy group has one. It is
// written as 64 hex characters in configuration and environment variables.
//
// PSK deliberately does not print: String, GoString, Format and MarshalText
// all yield a redacted placeholder. Use Hex to show the key on purpose (as
// `rgap genpsk` does).
type PSK [KeySize]byte

// ParsePSK decodes a PSK from exactly 64 hex characters, upper or lower
// case. Nothing is trimmed: stray whitespace is reported, not ignored. The
// error names the problem (the first non-hex character and its position,
// counting from 1, or the character count) and never repeats the input; it
// wraps ErrPSK.
func ParsePSK(s string) (PSK, error) {
	var p PSK
	pos := 0
	for _, r := range s {
		pos++
		if !isHex(r) {
			return p, &pskError{fmt.Sprintf("PSK has non-hex character %q at position %d", r, pos)}
		}
	}
	// Every character is ASCII hex now, so bytes and characters agree.
	if len(s) != 2*KeySize {
		return p, &pskError{fmt.Sprintf("PSK must be %d hex characters, got %d", 2*KeySize, utf8.RuneCountInString(s))}
	}
	if _, err := hex.Decode(p[:], []byte(s)); err != nil {
		// Unreachable after the checks above; kept so a decoder
		// disagreement can never yield a half-filled key.
		return PSK{}, &pskError{fmt.Sprintf("PSK is not valid hex: %v", err)}
	}
	return p, nil
}

func isHex(r rune) bool {
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F'
}

// GeneratePSK reads a new PSK from r; a nil r means crypto/rand.Reader, which
// is what a caller wants outside tests.
func GeneratePSK(r io.Reader) (PSK, error) {
	if r == nil {
		r = rand.Reader
	}
	var p PSK
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return PSK{}, fmt.Errorf("generate PSK: reading %d random bytes: %w", KeySize, err)
	}
	return p, nil
}

// Hex returns the key as 64 lowercase hex characters, the form ParsePSK
// accepts. It is the only method that reveals the key.
func (p PSK) Hex() string { return hex.EncodeToString(p[:]) }

// String returns "[redacted]", so a PSK passed to a logger or %v prints
// nothing secret.
func (p PSK) String() string { return redacted }

// GoString returns a redacted Go-syntax form for %#v.
func (p PSK) GoString() string { return "protocol.PSK{" + redacted + "}" }

// Format implements fmt.Formatter so that every verb, including %x and %d
// (which would otherwise print the array's bytes), is redacted. %#v uses
// GoString.
func (p PSK) Format(f fmt.State, verb rune) { formatRedacted(f, verb, p.GoString()) }

// formatRedacted is the Format of a secret: %#v prints goString, every
// other verb "[redacted]".
func formatRedacted(f fmt.State, verb rune, goString string) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, goString) // Format cannot report an error
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// MarshalText returns the redacted placeholder, so text-based encoders
// (JSON, YAML, structured log formats) never emit the key. It is thus not
// the inverse of UnmarshalText: serialize a key with Hex.
func (p PSK) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalText parses 64 hex characters as ParsePSK does, so a PSK can be a
// field in decoded configuration.
func (p *PSK) UnmarshalText(text []byte) error {
	k, err := ParsePSK(string(text))
	if err != nil {
		return err
	}
	*p = k
	return nil
}
