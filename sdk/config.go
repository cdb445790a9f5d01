package sdk

import (
	"fmt"
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/sdk/yamlwalk"
)

// Config is handed to Plugin.New.
type Config struct {
	groups []GroupInfo
	log    hclog.Logger
	spec   specDoc

	subscribed bool     // Subscribe was called
	subs       []uint64 // sorted, unique
}

// newConfig builds the Config handed to Plugin.New.
func newConfig(yamlText []byte, file string, line int, groups []GroupInfo, log hclog.Logger) *Config {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Config{
		groups: groups,
		log:    log,
		spec:   parseSpec(yamlText, file, line),
	}
}

// Decode decodes the output's spec strictly into v (a pointer to a struct
// with `yaml` tags): unknown keys are errors, durations are written like
// "5s", and every error names the key and the line in the listener's
// configuration file. An absent or null spec decodes as an empty mapping.
func (c *Config) Decode(v any) error { return decodeSpec(&c.spec, v) }

// Groups lists the groups configured in the listener.
func (c *Config) Groups() []GroupInfo { return c.groups }

// Log is the plugin's logger, usable from New.
func (c *Config) Log() hclog.Logger { return c.log }

// Subscribe restricts the groups the output hears about. Without a call the
// output hears about every group; a call with no ids subscribes to none.
// Calls add up. Asking for a group the listener does not have is a
// configuration error naming the group id (to also name the key that asked
// for it, check Groups yourself and return Errorf).
func (c *Config) Subscribe(ids ...uint64) {
	c.subscribed = true
	for _, id := range ids {
		if i, found := slices.BinarySearch(c.subs, id); !found {
			c.subs = slices.Insert(c.subs, i, id)
		}
	}
}

// unknownGroups lists subscribed ids the listener does not have.
func (c *Config) unknownGroups() []uint64 {
	var bad []uint64
	for _, id := range c.subs {
		if !slices.ContainsFunc(c.groups, func(g GroupInfo) bool { return g.ID == id }) {
			bad = append(bad, id)
		}
	}
	return bad
}

// ErrorfFunc builds an error about the value at a key path of the spec:
// Config.Errorf in a plugin, so that the error carries the key's line, or
// sdktest.Errorf in a unit test of a plugin's validation, which then needs
// no listener.
type ErrorfFunc func(key, format string, args ...any) error

// DecodeSpec is the first half of a plugin's New: it decodes the output's
// spec strictly into a new S (see Config.Decode) and, when that succeeds,
// passes it to validate with the listener's groups and Config.Errorf, and
// returns what validate makes of it (the settings Run works from):
//
//	func New(cfg *sdk.Config) (sdk.Output, error) {
//		s, err := sdk.DecodeSpec(cfg, (*spec).validate)
//		if err != nil {
//			return nil, err
//		}
//		cfg.Subscribe(s.groups...)
//		return &output{settings: s}, nil
//	}
//
// where validate is func (sp *spec) validate(groups []sdk.GroupInfo,
// errorf sdk.ErrorfFunc) (*settings, error).
func DecodeSpec[S, T any](cfg *Config, validate func(*S, []GroupInfo, ErrorfFunc) (T, error)) (T, error) {
	var sp S
	if err := cfg.Decode(&sp); err != nil {
		var zero T
		return zero, err
	}
	return validate(&sp, cfg.groups, cfg.Errorf)
}

// JoinKey appends a mapping key to a key path the way Decode and Errorf
// write paths: `a.b` for a plain key, `a["b.c"]` for a key holding other
// characters (an operator's domain name, say). Use it to name a key below a
// map in an Errorf, so the error finds the key's line. It is
// yamlwalk.JoinKey, kept here so a plugin needs only this package.
func JoinKey(path, key string) string { return yamlwalk.JoinKey(path, key) }

// Errorf reports a problem with the value at key (a key path as in
// DecodeError.Key, e.g. "mappings[0].group"), for checks a plugin makes
// after Decode: a required key that is missing, a value out of range, two
// settings that contradict each other. The error is a *DecodeError that
// carries the line of key in the operator's file (for a missing key, the
// line of the mapping that lacks it), so the operator is pointed at the
// right place. Return it from Plugin.New, alone or combined with
// errors.Join.
func (c *Config) Errorf(key string, format string, args ...any) error {
	return &DecodeError{
		File: c.spec.file,
		Line: c.spec.lineOf(key),
		Key:  key,
		Err:  fmt.Errorf(format, args...),
	}
}
