package etcd

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

// kv is one key this output writes and its value.
type kv struct{ key, value string }

// layout turns group state into etcd keys and values, and recognises this
// instance's keys among those a reconcile reads back.
type layout interface {
	// member appends the keys and values of one member of group (none when
	// the layout does not publish group).
	member(dst []kv, group uint64, m sdk.Member) []kv
	// ready appends the keys a ready group has besides its members.
	ready(dst []kv, group uint64) []kv
	// scanPrefixes are the key prefixes a reconcile reads.
	scanPrefixes() []string
	// owned reports whether a key read under a scan prefix belongs to this
	// instance, and to which group.
	owned(key string) (group uint64, ok bool)
}

// newLayout returns the layout of validated settings.
func newLayout(s *settings) layout {
	if s.layout == layoutSkyDNS {
		l := &skydnsLayout{instance: s.instance, byGroup: map[uint64][]skydnsName{}, byBase: map[string]uint64{}}
		for _, m := range s.names {
			base := s.prefix + reverseName(m.name) + "/"
			l.byGroup[m.group] = append(l.byGroup[m.group], skydnsName{base: base, ttl: m.ttl})
			l.byBase[base] = m.group
			l.bases = append(l.bases, base)
		}
		slices.Sort(l.bases)
		return l
	}
	return &rgapLayout{base: s.prefix + "groups/", instance: s.instance}
}

// memberID names a member in a key: its address, with the port when it
// announced one ("10.0.0.1", "10.0.0.1:8080", "[2001:db8::1]:8080").
func memberID(m sdk.Member) string {
	if m.Port == 0 {
		return m.Addr.String()
	}
	return netip.AddrPortFrom(m.Addr, m.Port).String()
}

// rgapLayout writes <prefix>groups/<id>/members/<instance>/<member> and
// <prefix>groups/<id>/ready/<instance>.
type rgapLayout struct {
	base     string // <prefix>groups/
	instance string
}

// rgapMember is the value of a member key.
type rgapMember struct {
	Address string `json:"address"`
	Port    uint16 `json:"port"`
	Weight  uint16 `json:"weight"`
	Expires string `json:"expires,omitempty"` // RFC 3339, UTC
}

func (l *rgapLayout) member(dst []kv, group uint64, m sdk.Member) []kv {
	v := rgapMember{Address: m.Addr.String(), Port: m.Port, Weight: m.Weight}
	if !m.Expires.IsZero() {
		v.Expires = m.Expires.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(v) // cannot fail: strings and integers
	key := l.base + strconv.FormatUint(group, 10) + "/members/" + l.instance + "/" + memberID(m)
	return append(dst, kv{key, string(b)})
}

// readyValue is the value of a ready key.
const readyValue = `{"ready":true}`

func (l *rgapLayout) ready(dst []kv, group uint64) []kv {
	return append(dst, kv{l.base + strconv.FormatUint(group, 10) + "/ready/" + l.instance, readyValue})
}

func (l *rgapLayout) scanPrefixes() []string { return []string{l.base} }

func (l *rgapLayout) owned(key string) (uint64, bool) {
	rest, ok := strings.CutPrefix(key, l.base)
	if !ok {
		return 0, false
	}
	idText, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return 0, false
	}
	switch {
	case strings.HasPrefix(rest, "members/"):
		inst, member, ok := strings.Cut(rest[len("members/"):], "/")
		return id, ok && inst == l.instance && member != "" && !strings.Contains(member, "/")
	case strings.HasPrefix(rest, "ready/"):
		return id, rest[len("ready/"):] == l.instance
	}
	return 0, false
}

// skydnsLayout writes, for every name mapped to a group,
// <prefix><reversed name>/<instance>-<member> with a SkyDNS service record
// as CoreDNS's etcd plugin reads it.
type skydnsLayout struct {
	instance string
	byGroup  map[uint64][]skydnsName
	byBase   map[string]uint64
	bases    []string
}

type skydnsName struct {
	base string // <prefix><reversed name>/
	ttl  uint32
}

// skydnsService is the value CoreDNS's etcd plugin reads (SkyDNS's service
// message): host answers A/AAAA queries; port and weight serve SRV queries.
type skydnsService struct {
	Host   string `json:"host"`
	Port   uint16 `json:"port,omitempty"`
	Weight uint16 `json:"weight,omitempty"`
	TTL    uint32 `json:"ttl"`
}

func (l *skydnsLayout) member(dst []kv, group uint64, m sdk.Member) []kv {
	names := l.byGroup[group]
	if len(names) == 0 {
		return dst
	}
	leaf := l.instance + "-" + memberID(m)
	for _, n := range names {
		b, _ := json.Marshal(skydnsService{Host: m.Addr.String(), Port: m.Port, Weight: m.Weight, TTL: n.ttl})
		dst = append(dst, kv{n.base + leaf, string(b)})
	}
	return dst
}

func (l *skydnsLayout) ready(dst []kv, _ uint64) []kv { return dst }

func (l *skydnsLayout) scanPrefixes() []string { return l.bases }

func (l *skydnsLayout) owned(key string) (uint64, bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return 0, false
	}
	group, ok := l.byBase[key[:i+1]]
	if !ok {
		return 0, false
	}
	// Addresses hold no '-', so the last one ends the instance.
	leaf := key[i+1:]
	j := strings.LastIndexByte(leaf, '-')
	return group, j > 0 && leaf[:j] == l.instance && j < len(leaf)-1
}

// reverseName turns app.example.com into com/example/app, the path of a DNS
// name below CoreDNS's etcd path.
func reverseName(name string) string {
	labels := strings.Split(name, ".")
	slices.Reverse(labels)
	return strings.Join(labels, "/")
}
