package main

import "github.com/oauthd/oauthd/cmd/internal/buildinfo"

// version is the release, stamped by the linker:
//
//	go build -ldflags "-X main.version=v1.4.0" ./cmd/oauthd
//
// Only the linker writes it. main reads it once, through readBuild, and
// hands the result to run; nothing else looks at it.
var version string

// buildInfo says which oauthd this is: in --version, the start-up log line
// and the oauthd_build_info metric.
type buildInfo = buildinfo.Info

// readBuild combines the linker-stamped version with what the Go
// toolchain records in every binary (module version for `go install
// module@v1.4.0`, VCS revision for builds from a clone).
func readBuild(stamped string) buildInfo { return buildinfo.Read(stamped) }
