package actioninstall

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The action's source fallback sets up "1.MINOR.x", not go.mod's exact
// `go 1.MINOR.0` (which no runner caches, so setup-go would download it, and
// fail where it cannot): the two must name the same minor release.
func TestActionGoVersionFollowsGoMod(t *testing.T) {
	root := filepath.Join("..", "..")
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	action, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (1\.\d+)(\.\d+)?$`).FindSubmatch(mod)
	a := regexp.MustCompile(`(?m)^\s+go-version: "(1\.\d+)\.x"$`).FindSubmatch(action)
	if m == nil || a == nil {
		t.Fatalf("go.mod's go directive (%q) or action.yml's go-version (%q) not found", m, a)
	}
	if string(m[1]) != string(a[1]) {
		t.Fatalf("action.yml sets up Go %s.x, go.mod needs %s", a[1], m[1])
	}
}
