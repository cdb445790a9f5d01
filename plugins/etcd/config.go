package etcd

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

// spec is the output's configuration as written in the listener's file.
// Every key is documented for operators in README.md.
type spec struct {
	// Endpoints are the etcd client URLs (http://host:port, https://host:port)
	// or host:port. Required, at least one.
	Endpoints []string `yaml:"endpoints"`
	// CAFile verifies the servers' certificates (PEM). Default: the system's
	// roots when an endpoint is https, else plain connections.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and its key (PEM),
	// given together. Default: none.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Username authenticates with etcd's own users; its password is read
	// from PasswordFile. Default: none (no authentication).
	Username string `yaml:"username"`
	// PasswordFile holds the password of Username (one line). Required with
	// Username; read at every connection attempt.
	PasswordFile string `yaml:"password_file"`
	// Prefix is where the keys are written. Default /rgap/ (layout rgap),
	// /skydns/ (layout skydns).
	Prefix string `yaml:"prefix"`
	// Instance names this listener in the keys. Default the host name.
	Instance string `yaml:"instance"`
	// LeaseTTL is the TTL of the lease every key is attached to, in whole
	// seconds. Default 10s, at least 2s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// Groups lists the groups published (layout rgap). Default: every group
	// of the listener.
	Groups []uint64 `yaml:"groups"`
	// Layout is rgap (default) or skydns.
	Layout string `yaml:"layout"`
	// Mappings maps a DNS name to the group that answers it (layout skydns,
	// required there, refused with layout rgap).
	Mappings map[string]mappingSpec `yaml:"mappings"`
}

// mappingSpec is one entry of spec.Mappings.
type mappingSpec struct {
	// Group is the group whose members answer the name. Required.
	Group *uint64 `yaml:"group"`
	// TTL is the DNS TTL written into each record, in whole seconds
	// (default 10s).
	TTL time.Duration `yaml:"ttl"`
}

// Defaults.
const (
	defaultLeaseTTL  = 10 * time.Second
	minLeaseTTL      = 2 * time.Second // etcd's own minimum with default timings
	maxLeaseTTL      = time.Hour
	defaultDNSTTL    = 10 * time.Second
	layoutRgap       = "rgap"
	layoutSkyDNS     = "skydns"
	defaultRgapPath  = "/rgap/"
	defaultSkyDNSDir = "/skydns/"
)

// settings is a validated spec, ready to run.
type settings struct {
	endpoints    []string
	caFile       string
	certFile     string
	keyFile      string
	tls          bool // some endpoint is https or a TLS file is given
	username     string
	passwordFile string
	prefix       string // ends with "/"
	instance     string
	leaseTTL     int64 // seconds
	allGroups    bool  // groups not given: every group of the listener
	groups       []uint64
	layout       string
	names        []nameMapping // layout skydns, sorted by name
}

// nameMapping is a validated skydns mapping.
type nameMapping struct {
	name  string // lowercase, without the trailing dot
	group uint64
	ttl   uint32 // seconds
}

// validateHere is validate with this machine's name as the default
// instance.
func (sp *spec) validateHere(known []sdk.GroupInfo, errorf sdk.ErrorfFunc) (*settings, error) {
	return sp.validate(known, hostname(), errorf)
}

// validate checks sp against the listener's groups and reports every problem,
// each naming its key. hostname is the default instance.
func (sp *spec) validate(known []sdk.GroupInfo, hostname string, errorf sdk.ErrorfFunc) (*settings, error) {
	s := &settings{
		caFile: sp.CAFile, certFile: sp.CertFile, keyFile: sp.KeyFile,
		username: sp.Username, passwordFile: sp.PasswordFile,
	}
	errs := sp.connection(s, errorf)
	errs = append(errs, sp.placement(s, hostname, errorf)...)
	switch s.layout {
	case layoutRgap:
		errs = append(errs, sp.rgapGroups(s, known, errorf)...)
	case layoutSkyDNS:
		errs = append(errs, sp.skyDNSNames(s, known, errorf)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(s.groups)
	return s, nil
}

// connection checks how to reach etcd: endpoints, TLS and authentication.
func (sp *spec) connection(s *settings, errorf sdk.ErrorfFunc) []error {
	var errs []error
	if len(sp.Endpoints) == 0 {
		errs = append(errs, errorf("endpoints", "required, at least one etcd client URL such as http://127.0.0.1:2379"))
	}
	for i, e := range sp.Endpoints {
		https, err := checkEndpoint(e)
		if err != nil {
			errs = append(errs, errorf("endpoints["+strconv.Itoa(i)+"]", "%q: %v", e, err))
			continue
		}
		s.tls = s.tls || https
		s.endpoints = append(s.endpoints, e)
	}
	if (sp.CertFile == "") != (sp.KeyFile == "") {
		errs = append(errs, errorf("cert_file", "cert_file and key_file are given together (a client certificate and its key)"))
	}
	s.tls = s.tls || sp.CAFile != "" || sp.CertFile != ""
	switch {
	case sp.Username != "" && sp.PasswordFile == "":
		errs = append(errs, errorf("password_file", "required with username: the file holding its password"))
	case sp.Username == "" && sp.PasswordFile != "":
		errs = append(errs, errorf("username", "required with password_file"))
	}
	return errs
}

// placement checks where and how the keys are written: layout, prefix,
// instance and lease TTL.
func (sp *spec) placement(s *settings, hostname string, errorf sdk.ErrorfFunc) []error {
	var errs []error
	s.layout = sp.Layout
	switch sp.Layout {
	case "", layoutRgap:
		s.layout = layoutRgap
	case layoutSkyDNS:
	default:
		errs = append(errs, errorf("layout", "%q: must be rgap or skydns", sp.Layout))
	}

	s.prefix = sp.Prefix
	if s.prefix == "" {
		s.prefix = defaultRgapPath
		if s.layout == layoutSkyDNS {
			s.prefix = defaultSkyDNSDir
		}
	}
	if !strings.HasPrefix(s.prefix, "/") || strings.Contains(s.prefix, "//") || strings.ContainsAny(s.prefix, " \t\r\n\x00") {
		errs = append(errs, errorf("prefix", "%q: must start with / and hold no empty segment or blank", sp.Prefix))
	}
	if !strings.HasSuffix(s.prefix, "/") {
		s.prefix += "/"
	}

	s.instance = sp.Instance
	if s.instance == "" {
		s.instance = hostname
	}
	if err := checkInstance(s.instance); err != nil {
		if sp.Instance == "" {
			errs = append(errs, errorf("instance", "the host name %q cannot be the default: %v; set instance", hostname, err))
		} else {
			errs = append(errs, errorf("instance", "%q: %v", sp.Instance, err))
		}
	}

	ttl := sp.LeaseTTL
	if ttl == 0 {
		ttl = defaultLeaseTTL
	}
	if ttl < minLeaseTTL || ttl > maxLeaseTTL || ttl%time.Second != 0 {
		errs = append(errs, errorf("lease_ttl", "%v: must be whole seconds from %v to %v", sp.LeaseTTL, minLeaseTTL, maxLeaseTTL))
	}
	s.leaseTTL = int64(ttl / time.Second)
	return errs
}

// rgapGroups checks the groups layout rgap publishes.
func (sp *spec) rgapGroups(s *settings, known []sdk.GroupInfo, errorf sdk.ErrorfFunc) []error {
	var errs []error
	if len(sp.Mappings) > 0 {
		errs = append(errs, errorf("mappings", "only with layout skydns (layout rgap publishes groups, see groups)"))
	}
	s.allGroups = sp.Groups == nil
	for i, id := range sp.Groups {
		if !isKnown(known, id) {
			errs = append(errs, errorf("groups["+strconv.Itoa(i)+"]", "group %d is not configured in the listener", id))
		} else if !slices.Contains(s.groups, id) {
			s.groups = append(s.groups, id)
		}
	}
	if sp.Groups != nil && len(sp.Groups) == 0 {
		errs = append(errs, errorf("groups", "empty: leave it out to publish every group"))
	}
	return errs
}

// skyDNSNames checks the DNS names layout skydns publishes, and their groups.
func (sp *spec) skyDNSNames(s *settings, known []sdk.GroupInfo, errorf sdk.ErrorfFunc) []error {
	var errs []error
	if sp.Groups != nil {
		errs = append(errs, errorf("groups", "only with layout rgap (layout skydns publishes the groups of its mappings)"))
	}
	if len(sp.Mappings) == 0 {
		errs = append(errs, errorf("mappings", "required with layout skydns: at least one DNS name and its group"))
	}
	for _, written := range sortedKeys(sp.Mappings) {
		m, merrs := validateMapping(sdk.JoinKey("mappings", written), written, sp.Mappings[written], known, errorf)
		errs = append(errs, merrs...)
		if len(merrs) == 0 {
			s.names = append(s.names, m)
		}
	}
	slices.SortFunc(s.names, func(a, b nameMapping) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(s.names); i++ {
		if s.names[i].name == s.names[i-1].name {
			errs = append(errs, errorf("mappings", "%q is mapped twice (names are not case-sensitive)", s.names[i].name))
		}
	}
	for _, m := range s.names {
		if !slices.Contains(s.groups, m.group) {
			s.groups = append(s.groups, m.group)
		}
	}
	return errs
}

func validateMapping(key, written string, ms mappingSpec, known []sdk.GroupInfo, errorf sdk.ErrorfFunc) (nameMapping, []error) {
	var errs []error
	m := nameMapping{}
	name, err := normalizeName(written)
	if err != nil {
		errs = append(errs, errorf(key, "%q: %v", written, err))
	}
	m.name = name
	if ms.Group == nil {
		errs = append(errs, errorf(key+".group", "required, the id of the group that answers the name"))
	} else if !isKnown(known, *ms.Group) {
		errs = append(errs, errorf(key+".group", "group %d is not configured in the listener", *ms.Group))
	} else {
		m.group = *ms.Group
	}
	ttl := ms.TTL
	if ttl == 0 {
		ttl = defaultDNSTTL
	}
	if ttl < time.Second || ttl%time.Second != 0 || ttl > 24*time.Hour {
		errs = append(errs, errorf(key+".ttl", "%v: must be whole seconds from 1s to 24h", ms.TTL))
	}
	m.ttl = uint32(ttl / time.Second)
	return m, errs
}

// checkEndpoint accepts http:// and https:// URLs with a host and port and
// nothing else, and a bare host:port. It reports whether TLS is asked for.
func checkEndpoint(e string) (https bool, err error) {
	if !strings.Contains(e, "://") {
		if _, _, err := splitHostPort(e); err != nil {
			return false, err
		}
		return false, nil
	}
	u, err := url.Parse(e)
	if err != nil {
		return false, errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return false, errors.New("the scheme must be http or https")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return false, errors.New("only scheme, host and port are allowed (credentials go in username and password_file)")
	}
	if _, _, err := splitHostPort(u.Host); err != nil {
		return false, err
	}
	return u.Scheme == "https", nil
}

func splitHostPort(hp string) (string, uint16, error) {
	i := strings.LastIndexByte(hp, ':')
	if i <= 0 {
		return "", 0, errors.New("want host:port")
	}
	host := strings.TrimSuffix(strings.TrimPrefix(hp[:i], "["), "]")
	p, err := strconv.ParseUint(hp[i+1:], 10, 16)
	if err != nil || p == 0 || host == "" {
		return "", 0, errors.New("want host:port with a port from 1 to 65535")
	}
	return host, uint16(p), nil
}

// checkInstance accepts what can stand as one segment of a key and a prefix
// of a DNS label: letters, digits, '.', '-' and '_', at most 63 characters.
func checkInstance(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 63 {
		return errors.New("longer than 63 characters")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLabelChar(c) && (c < 'A' || c > 'Z') && c != '.' {
			return fmt.Errorf("contains %q: only letters, digits, '.', '-' and '_' are allowed", c)
		}
	}
	return nil
}

// normalizeName lowercases a DNS name and drops its trailing dot.
func normalizeName(s string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(s, "."))
	if n == "" {
		return "", errors.New("empty name")
	}
	if len(n) > 253 {
		return "", errors.New("longer than 253 characters")
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "" || len(label) > 63 {
			return "", errors.New("every label must have 1 to 63 characters")
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isLabelChar(c) {
				return "", fmt.Errorf("label %q contains %q: only letters, digits, '-' and '_' are allowed", label, c)
			}
		}
	}
	return n, nil
}

// isLabelChar reports whether c may appear in a lowercase DNS label as this
// output accepts it.
func isLabelChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func isKnown(known []sdk.GroupInfo, id uint64) bool {
	return slices.ContainsFunc(known, func(g sdk.GroupInfo) bool { return g.ID == id })
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// hostname is the default instance.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}
