// Package version says which build of atomyx-guard is running, so that a
// SARIF log, a bug report or `atomyx-guard version` name a real version
// instead of "dev": code scanning groups and compares analyses by the tool
// version, and an incident needs to know which build found a key.
package version

import (
	"runtime/debug"
	"strings"
)

// tag is set by release builds: -ldflags "-X
// github.com/atomyx/atomyx-guard/internal/version.tag=v1.2.3"
// (.goreleaser.yaml does). It wins over everything else.
var tag string

// readBuildInfo is debug.ReadBuildInfo; tests replace it.
var readBuildInfo = debug.ReadBuildInfo

// Dev is the version of a build that carries none (go build from a
// checkout without VCS stamping): semver, so SARIF's semanticVersion holds.
const Dev = "0.0.0-dev"

// String is the version of this build, "v"-less semver where one is known:
// the release tag from ldflags; else the module version `go install
// …@v1.2.3` (or Go's VCS stamping, "v0.0.0-2026…-abcdef") records; else
// Dev, with the VCS revision as build metadata when Go stamped one.
func String() string {
	if tag != "" {
		return strings.TrimPrefix(tag, "v")
	}
	bi, ok := readBuildInfo()
	if !ok {
		return Dev
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return strings.TrimPrefix(v, "v")
	}
	var rev string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return Dev
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += ".dirty"
	}
	return Dev + "+" + rev
}

// Commit is the VCS revision Go stamped into the build, or "".
func Commit() string {
	bi, ok := readBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}
