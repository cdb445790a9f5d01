package redact

import "testing"

func TestShorten(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"12345678", "12345678"},
		{"123456789", "12345678..."},
		{"8f1302643b0809279794c5cc47f23656", "8f130264..."},
		{"ééééééééé", "éééééééé..."},
		{"äöüäöüäöü", "äöüäöüäö..."},
	} {
		if got := Shorten(tt.in); got != tt.want {
			t.Errorf("Shorten(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
