package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadWithin runs load and fails the test if it has not returned in 20
// seconds: the bug this guards against is a read that never returns, so
// the limit is a hang detector, not a speed assertion.
func loadWithin(t *testing.T, load func() (*Config, error)) (*Config, error) {
	t.Helper()
	type res struct {
		c   *Config
		err error
	}
	done := make(chan res, 1)
	go func() { c, err := load(); done <- res{c, err} }()
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("loading the configuration hung")
		return nil, nil
	}
}

// A repository's own .atomyx-guard.toml is read only when it is a regular
// file inside the repository: a FIFO, a device or a link to one
// (/proc/self/fd/1) would block the read forever, and a link out of the
// tree would read a file the repository does not own.
func TestLoadRootRefuses(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "elsewhere.toml")
	if err := os.WriteFile(outside, []byte("[allow]\npaths = [\"**\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, want string
		make       func(t *testing.T, p string)
	}{
		{"fifo", "not a regular file", func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skip("no FIFOs here:", err)
			}
		}},
		{"link to stdout", "inside", func(t *testing.T, p string) { symlink(t, "/proc/self/fd/1", p) }},
		{"link to a device", "inside", func(t *testing.T, p string) { symlink(t, "/dev/zero", p) }},
		{"link out of the tree", "inside", func(t *testing.T, p string) { symlink(t, outside, p) }},
		{"link up and out", "inside", func(t *testing.T, p string) {
			symlink(t, filepath.Join("..", filepath.Base(filepath.Dir(outside)), filepath.Base(outside)), p)
		}},
		{"dangling link", "inside", func(t *testing.T, p string) { symlink(t, "nowhere.toml", p) }},
		{"directory", "not a regular file", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"too large", "larger than", func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("# "+strings.Repeat("x", MaxSize)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.make(t, filepath.Join(root, FileName))
			_, err := loadWithin(t, func() (*Config, error) { return LoadRoot(root) })
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), FileName) {
				t.Errorf("error %q: want it to name the file and say %q", err, tt.want)
			}
		})
	}
}

func TestLoadRootAccepts(t *testing.T) {
	root := t.TempDir()
	if c, err := LoadRoot(root); err != nil || len(c.AllowPaths) != 0 {
		t.Fatalf("no file: %v, %+v; want the defaults", err, c)
	}
	// A link that stays inside the tree is the repository's own file.
	if err := os.MkdirAll(filepath.Join(root, "conf"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "conf", "guard.toml"), []byte("[allow]\npaths = [\"vendor/**\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink(t, filepath.Join("conf", "guard.toml"), filepath.Join(root, FileName))
	c, err := LoadRoot(root)
	if err != nil || !c.AllowsPath("vendor/a.go") {
		t.Fatalf("link inside the tree: %v", err)
	}
	// The root itself may be reached through a link (/tmp on macOS).
	alias := filepath.Join(t.TempDir(), "alias")
	symlink(t, root, alias)
	if c, err := LoadRoot(alias); err != nil || !c.AllowsPath("vendor/a.go") {
		t.Fatalf("root through a link: %v", err)
	}
}

// A file the operator names (--config) may be a link anywhere, but it is
// still read only when it is a regular file.
func TestLoadExplicit(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.toml")
	if err := os.WriteFile(real, []byte("[allow]\npaths = [\"x/**\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link.toml")
	symlink(t, real, link)
	if c, err := Load(link); err != nil || !c.AllowsPath("x/y") {
		t.Fatalf("link to a regular file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	for _, p := range []string{fifo, "/dev/zero", "/proc/self/fd/1"} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().IsRegular() {
			continue // stdout redirected to a file: a regular file after all
		}
		if _, err := loadWithin(t, func() (*Config, error) { return Load(p) }); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Load(%s) = %v, want not a regular file", p, err)
		}
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}
