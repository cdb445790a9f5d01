package config

import (
	"errors"
	"strings"
	"testing"
)

// TestScrubText covers the ways another package's message repeats the
// value it was given: quoted whole, quoted in part, unquoted, and with
// escapes.
func TestScrubText(t *testing.T) {
	const psk = "5ec2e7c0ffee5ec2e7c0ffee5ec2e7c0ffee5ec2e7c0ffee5ec2e7c0ffee5ec2"
	long := strings.Repeat("ab", maxScrubRun)
	for _, tt := range []struct{ msg, value, want string }{
		{`spec "` + psk + `": missing port`, psk, `spec "5ec2e7c0...": missing port`},
		{`address ` + psk + `: missing port in address`, psk, `address 5ec2e7c0...: missing port in address`},
		{`bad port "` + psk[:20] + `"`, "1.2.3.4:" + psk[:20], `bad port "5ec2e7c0..."`},
		{`bad name "tab\there"`, "tab\there", `bad name "tab\there"`},
		{`bad name "tab\there and more"`, "tab\there and more", `bad name "tab\there..."`},
		{`short "1.2.3.4": ok`, "1.2.3.4", `short "1.2.3.4": ok`},
		{`unrelated text of some length`, psk, `unrelated text of some length`},
		{`x ` + long + ` y`, long, `x abababab... y`},
		{`unterminated "` + psk, psk, `unterminated "5ec2e7c0...`},
	} {
		if got := scrubText(tt.msg, tt.value); got != tt.want {
			t.Errorf("scrubText(%q)\n got %q\nwant %q", tt.msg, got, tt.want)
		}
	}
}

func TestScrubKeepsCause(t *testing.T) {
	cause := errors.New("secret 5ec2e7c0ffee5ec2e7c0ffee")
	err := scrub(cause, "5ec2e7c0ffee5ec2e7c0ffee")
	if !errors.Is(err, cause) || err.Error() != "secret 5ec2e7c0..." {
		t.Errorf("scrub = %q (Is cause: %v)", err, errors.Is(err, cause))
	}
}

func TestSuggest(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"pskk", " (did you mean psk?)"},
		{"readiness_dealy", " (did you mean readiness_delay?)"},
		{"Expire", " (did you mean expire?)"},
		{"expier", " (did you mean expire?)"},
		{"x", ""},
		{"timeout", ""},
		{strings.Repeat("a", 100), ""},
	} {
		if got := suggest(tt.name, groupKeys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
