// Package buildinfo says which build of rgap is running: the version an
// operator reads in `rgap version`, in logs and (later) in the build-info
// metric. It answers from what the Go toolchain embeds in every binary
// (runtime/debug.ReadBuildInfo), so a plain `go build` in a git checkout
// already names its commit, and from an optional version string stamped at
// link time by packaging (`-ldflags -X`), which wins when present.
package buildinfo

import (
	"regexp"
	"runtime/debug"
	"strings"
)

// Stamped is set at link time by release builds:
//
//	go build -ldflags "-X github.com/rgap-project/rgap/internal/buildinfo.Stamped=1.2.0"
var Stamped string

// Info describes one build.
type Info struct {
	// Version is the release version ("v1.2.0"), or "devel" for a build
	// from a checkout that no version was stamped on.
	Version string
	// Revision is the VCS commit (12 hex digits), empty when unknown.
	Revision string
	// Time is the commit time (RFC 3339), empty when unknown.
	Time string
	// Modified is true when the checkout had uncommitted changes.
	Modified bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// pseudo matches a Go pseudo-version's tail (-yyyymmddhhmmss-abcdefabcdef),
// which the toolchain derives from the commit: it says nothing that
// Revision and Time do not, so such a version counts as "devel".
var pseudo = regexp.MustCompile(`[-.]\d{14}-[0-9a-f]{12}(\+dirty)?$`)

// Read returns this binary's build description.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, Stamped)
}

func fromBuildInfo(bi *debug.BuildInfo, stamped string) Info {
	info := Info{Version: "devel"}
	if bi == nil {
		if stamped != "" {
			info.Version = stamped
		}
		return info
	}
	info.GoVersion = bi.GoVersion
	if v := bi.Main.Version; v != "" && v != "(devel)" && !pseudo.MatchString(v) {
		info.Version = strings.TrimSuffix(v, "+dirty")
	}
	if stamped != "" {
		info.Version = stamped
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
			if len(info.Revision) > 12 {
				info.Revision = info.Revision[:12]
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "vcs.time":
			info.Time = s.Value
		}
	}
	return info
}

// String is the one-line form `rgap version` prints, e.g.
// "v1.2.0 (3f9c2a1b7d4e, 2026-12-01T10:00:00Z) go1.26.8" or
// "devel (3f9c2a1b7d4e+dirty, 2026-12-01T10:00:00Z) go1.26.8".
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	if i.Revision != "" {
		b.WriteString(" (")
		b.WriteString(i.Revision)
		if i.Modified {
			b.WriteString("+dirty")
		}
		if i.Time != "" {
			b.WriteString(", ")
			b.WriteString(i.Time)
		}
		b.WriteString(")")
	}
	if i.GoVersion != "" {
		b.WriteString(" ")
		b.WriteString(i.GoVersion)
	}
	return b.String()
}
