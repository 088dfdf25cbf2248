package filesource

import (
	"path"
	"path/filepath"
	"testing"
)

// join is Join wherever the walk uses it: clean directories and listed
// names.
func TestJoin(t *testing.T) {
	for _, dir := range []string{"", ".", "/", "a", "/a/b", "../a", "a b/c"} {
		for _, name := range []string{"x", ".x", "x y", "..x"} {
			if got, want := join(dir, name, '/'), path.Join(dir, name); got != want {
				t.Errorf("join(%q, %q, '/') = %q, want %q", dir, name, got, want)
			}
			d := filepath.FromSlash(dir)
			if got, want := join(d, name, filepath.Separator), filepath.Join(d, name); got != want {
				t.Errorf("join(%q, %q) = %q, want %q", d, name, got, want)
			}
		}
	}
}
