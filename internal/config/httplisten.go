package config

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rgap-project/rgap/sdk/yamlwalk"
)

// CheckHTTPListen checks an http_listen address (the key or the
// listener's --http-listen flag): host:port, where host is empty (every
// address), an IP literal (IPv6 in brackets) or a host name, and port a
// number from 1 to 65535. The error does not repeat the value: the caller
// names it (the decoder as it names every value it refuses).
func CheckHTTPListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port, such as 127.0.0.1:9271 or [::1]:9271 (an empty host means every address)")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return errors.New("the port must be a number from 1 to 65535")
	}
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		if strings.Contains(s, "[") != strings.Contains(host, ":") {
			return errors.New("an IPv6 host must be written in brackets, an IPv4 one without")
		}
		return nil
	}
	if !validHostName(host) {
		return errors.New("the host must be empty, an IP address or a host name")
	}
	return nil
}

// validHostName accepts a DNS name: dot-separated labels of letters,
// digits and '-', each 1 to 63 characters, not starting or ending in '-'.
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			default:
				return false
			}
		}
	}
	return true
}

func (d *decoder) httpListen(f yamlwalk.Pair) string {
	s, ok := d.optionalStr(f)
	if !ok {
		return ""
	}
	if err := CheckHTTPListen(s); err != nil {
		d.fail(f.Value, f.Name, ErrValue, nil, "%v, got %s", err, yamlwalk.Describe(f.Value))
		return ""
	}
	return s
}
