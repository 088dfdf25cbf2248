package version

import (
	"runtime/debug"
	"testing"
)

func TestString(t *testing.T) {
	defer func(t0 string, r0 func() (*debug.BuildInfo, bool)) { tag, readBuildInfo = t0, r0 }(tag, readBuildInfo)
	bi := func(v string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Version: v}, Settings: settings}, true
		}
	}
	tests := []struct {
		name, tag string
		read      func() (*debug.BuildInfo, bool)
		want      string
	}{
		{"release tag", "v1.4.0", bi("(devel)"), "1.4.0"},
		{"tag beats module", "v1.4.0", bi("v9.9.9"), "1.4.0"},
		{"go install @version", "", bi("v1.3.2"), "1.3.2"},
		{"vcs stamped pseudo-version", "", bi("v0.0.0-20261129082853-f728de9aaaaa+dirty"), "0.0.0-20261129082853-f728de9aaaaa+dirty"},
		{"devel with revision", "", bi("(devel)", debug.BuildSetting{Key: "vcs.revision", Value: "f728de9f0123456789abcdef"}), "0.0.0-dev+f728de9f0123"},
		{"devel dirty", "", bi("(devel)", debug.BuildSetting{Key: "vcs.revision", Value: "f728de9"}, debug.BuildSetting{Key: "vcs.modified", Value: "true"}), "0.0.0-dev+f728de9.dirty"},
		{"nothing", "", bi("(devel)"), Dev},
		{"no build info", "", func() (*debug.BuildInfo, bool) { return nil, false }, Dev},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, readBuildInfo = tt.tag, tt.read
			if got := String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStringIsNeverDev is what SARIF2005 asks: whatever the build, the
// version is not the bare word "dev" and parses as semver.
func TestStringIsNeverDev(t *testing.T) {
	v := String()
	if v == "dev" || v == "" {
		t.Fatalf("String() = %q", v)
	}
}
