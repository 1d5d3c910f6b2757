package buildinfo

import (
	"runtime/debug"
	"testing"
)

// Every way the binaries are built names the build: stamped by make build
// or the Dockerfile, `go install pkg@version`, a build in a clone (the
// revision, and whether the tree was modified), and `go run`.
func TestFrom(t *testing.T) {
	clone := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261201120000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    Info
		line    string
	}{
		{"make build", "v1.4.0", clone, Info{"v1.4.0", "0123456789abcdef0123", true, "go1.26.8"}, "v1.4.0 (commit 0123456789ab-modified, go1.26.8)"},
		{"go install pkg@version", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			Info{Version: "v1.4.0", GoVersion: "go1.26.8"}, "v1.4.0 (go1.26.8)"},
		{"go install in a clone", "", clone, Info{"v0.0.0-20261201120000-0123456789ab+dirty", "0123456789abcdef0123", true, "go1.26.8"},
			"v0.0.0-20261201120000-0123456789ab+dirty (commit 0123456789ab-modified, go1.26.8)"},
		{"go run", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, Info{Version: "devel", GoVersion: "go1.26.8"}, "devel (go1.26.8)"},
		{"no build information", "", nil, Info{Version: "devel"}, "devel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := From(tt.stamped, tt.bi)
			if got != tt.want || got.String() != tt.line {
				t.Fatalf("got %+v %q, want %+v %q", got, got.String(), tt.want, tt.line)
			}
		})
	}
	if b := Read(""); b.Version == "" || b.GoVersion == "" {
		t.Errorf("Read: %+v", b)
	}
}
