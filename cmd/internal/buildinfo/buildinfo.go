// Package buildinfo says which build a program is, for --version, the
// start-up log line and oauthd_build_info: the release the linker stamped
// (make build, the Dockerfile), else what the Go toolchain records in
// every binary, so that a `go install` build names itself too.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Info is one build's identity.
type Info struct {
	Version   string // the stamped release, else the module version, else "devel"
	Revision  string // VCS commit, when the build recorded one
	Modified  bool   // built from a work tree with uncommitted changes
	GoVersion string
}

// Read combines the linker-stamped version (-ldflags "-X
// main.version=v1.4.0"; "" when not stamped) with the binary's build
// information.
func Read(stamped string) Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return From(stamped, bi)
}

// From is Read on the given build information (nil when the binary has
// none). `go install module/cmd/oauthd@v1.4.0` records the module version
// v1.4.0; a build in a clone records vcs.revision and vcs.modified and,
// since Go 1.24, a pseudo-version of that commit; `go run`, or a build
// with -buildvcs=false, records "(devel)" and no revision.
func From(stamped string, bi *debug.BuildInfo) Info {
	b := Info{Version: stamped}
	if bi != nil {
		b.GoVersion = bi.GoVersion
		if b.Version == "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

// String is the --version line: "v1.4.0 (commit 0123abcd, go1.26.8)".
func (b Info) String() string {
	var extra []string
	if b.Revision != "" {
		rev := b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if b.Modified {
			rev += "-modified"
		}
		extra = append(extra, "commit "+rev)
	}
	if b.GoVersion != "" {
		extra = append(extra, b.GoVersion)
	}
	if len(extra) == 0 {
		return b.Version
	}
	return fmt.Sprintf("%s (%s)", b.Version, strings.Join(extra, ", "))
}
