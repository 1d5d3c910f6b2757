package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version is the release, stamped by the linker:
//
//	go build -ldflags "-X main.version=v1.4.0" ./cmd/oauthd
//
// Only the linker writes it. main reads it once, through readBuild, and
// hands the result to run; nothing else looks at it.
var version string

// buildInfo says which oauthd this is: in --version, the start-up log line
// and the oauthd_build_info metric.
type buildInfo struct {
	Version   string // the stamped release, else the module version, else "devel"
	Revision  string // VCS commit, when the build recorded one
	Modified  bool   // built from a work tree with uncommitted changes
	GoVersion string
}

// readBuild combines the linker-stamped version with what the Go
// toolchain records in every binary (module version for `go install
// module@v1.4.0`, VCS revision for builds from a clone).
func readBuild(stamped string) buildInfo {
	b := buildInfo{Version: stamped}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if b.Version == "" {
			b.Version = "devel"
		}
		return b
	}
	b.GoVersion = bi.GoVersion
	if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the --version line: "v1.4.0 (commit 0123abcd, go1.26.8)".
func (b buildInfo) String() string {
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
