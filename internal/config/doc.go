// Package config reads the listener's YAML configuration file: the
// addresses to listen on, the redundancy groups with their keys and
// timings, and the output plugins to run.
//
// # Strictness
//
// The file is decoded by walking the yaml.v3 node tree by hand instead of
// unmarshalling into structs, for two reasons. First, every problem can
// then name where it is: the file, line, column and key path. Second, the
// decoder can be strict where a typo would otherwise pass silently: an
// unknown key anywhere this package owns (the top level, groups[i],
// outputs[i]) is an error, as are duplicate keys, duplicate group ids,
// duplicate listen addresses and values of the wrong type. Problems are
// collected in one pass and returned together, sorted by position, so an
// operator fixes a file in one round instead of one error per restart.
//
// Each problem is an *Error that reads
//
//	rgap.yaml:7:5: groups[0]: unknown key "pskk" (did you mean psk?)
//	rgap.yaml:12:9: groups[1].id: want an unsigned integer, got "abc"
//
// and matches one of the Err* sentinels with errors.Is. Several problems
// are joined with errors.Join, one per line.
//
// No message repeats more than the first 8 characters of anything written
// in the file (a value, a key, an anchor name), cut short as "8f130264...":
// a PSK pasted where a key, an id or a duration belongs must not end up in
// a log. This holds for the messages of other packages that are passed on
// too (a listen entry's netspec error, a YAML syntax error). The position
// says where the whole text is; an unknown key that is a likely typo of a
// known one gets a "did you mean" naming the known key.
//
// Load reads only a regular file (symbolic links are followed): a
// directory, named pipe, socket or device is refused with
// ErrNotRegularFile, naming the path and its type, and a named pipe is
// never waited on.
// YAML syntax errors stop decoding (there is no tree to walk); yaml.v3
// often blames the line where the enclosing block began, so the offending
// line is found again as the first one after the longest leading part of
// the file that still parses.
//
// Compatibility with the reference implementation, which decoded the file
// with yaml.v3 into structs: anchors, aliases and merge keys ("<<") work;
// any YAML scalar is accepted where a string is expected, as written;
// integers may be written in any YAML integer form (1000, 0x3e8, 1_000).
// Durations are Go duration strings ("15s", "1m30s"). yaml.v3 refuses a
// bare integer for a duration, and so does this package, except 0, which
// needs no unit: reading "expire: 15" as 15 nanoseconds would expire every
// address at once without a word. Where the reference was lax, this
// package is strict: a float is not truncated into a group id, and
// unknown keys are errors rather than ignored.
//
// Semantics beyond syntax: expire must be positive; clock_skew, when unset
// or zero, equals expire, and a larger one is capped at expire with a
// warning in Config.Warnings; readiness_delay must not be negative; at
// least one listen address is required. Listen addresses are parsed by
// internal/netspec and PSKs by internal/protocol, whose errors are
// wrapped with the position and key.
//
// # Output specs
//
// This package never looks inside outputs[i].spec: the plugin owns its
// configuration and validates it. But the plugin must be able to report
// a mistake at the line the operator wrote it on, and it must never see
// anything else from the file, least of all a PSK. So Output.Spec is YAML
// text, cut from the file, in which a YAML parser finds every node of the
// spec at its original line and column:
//
//   - the text runs from the spec node's first character up to the line
//     of the next node in document order (or the end of the file), less
//     trailing blank and comment-only lines, which are outside the spec
//     and may hold anything, such as a commented-out group;
//   - it is prefixed by line-1 line breaks, and whatever precedes the spec
//     on its first line ("    spec: ") is replaced by spaces;
//   - the text is parsed again and must yield a tree identical to the
//     spec's (values, tags, styles, lines and columns). When it does not
//     (a flow spec followed by other nodes on its last line, an alias to
//     an anchor outside the spec, a file in UTF-16), the spec is instead
//     re-encoded with yaml.Marshal after line-1 line breaks: aliases are
//     expanded, comments dropped, and only the first line is sure to keep
//     its number.
//
// Either way no byte from outside the spec's subtree reaches the plugin,
// apart from what the operator deliberately pulled in with an alias.
//
// # New keys
//
// Three optional top-level keys extend the reference format: plugins_dir,
// the directory holding out-of-tree plugin executables
// (rgap-plugin-<kind>), resolved against the configuration file's
// directory when relative; receive_buffer, the socket receive buffer
// in bytes; and http_listen, the host:port of the metrics and health
// endpoints. Each output may carry sha256, the hex SHA-256 digest its
// out-of-tree plugin executable must have, and hang_timeout, how long its
// plugin may acknowledge nothing before it is replaced.
package config
