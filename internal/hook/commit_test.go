package hook

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"

	"github.com/atomyx/atomyx-guard/internal/testkit"
)

// binDir holds atomyx-guard, built once for the tests that commit through
// the installed hook.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "atomyx-guard-hook-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "atomyx-guard"), "github.com/atomyx/atomyx-guard/cmd/atomyx-guard")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build atomyx-guard: %v\n%s", err, out)
		return 2
	}
	binDir = dir
	return m.Run()
}

// commit runs git commit in repo with the built binary first on PATH and
// returns its exit code and combined output.
func commit(t *testing.T, repo string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", repo, "commit"}, args...)...)
	cmd.Env = testkit.GitEnv(t.TempDir())
	for i, kv := range cmd.Env {
		if strings.HasPrefix(kv, "PATH=") {
			cmd.Env[i] = "PATH=" + binDir + string(os.PathListSeparator) + kv[len("PATH="):]
		}
	}
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

func write(t *testing.T, repo, name, content string) {
	t.Helper()
	p := filepath.Join(repo, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInstalledHookGuardsCommits(t *testing.T) {
	key, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	fpr := patterns.Fingerprint([]byte(key))
	tests := []struct {
		name    string
		chain   string // an existing hook to chain, if any
		stage   func(t *testing.T, repo string) []string
		blocked bool
		want    []string // in the output
	}{
		{
			name: "clean change goes through",
			stage: func(t *testing.T, repo string) []string {
				write(t, repo, "src/app.go", "package app\n// reads ATOMYX_API_KEY from the environment\n")
				testkit.Git(t, repo, "add", "src/app.go")
				return []string{"-m", "clean"}
			},
		},
		{
			name: "staged key is blocked",
			stage: func(t *testing.T, repo string) []string {
				write(t, repo, "config/app.env", "# settings\nREGION=eu\nATOMYX_KEY="+key+"\n")
				testkit.Git(t, repo, "add", "config/app.env")
				return []string{"-m", "leak"}
			},
			blocked: true,
			want:    []string{"config/app.env:3:12", fpr, patterns.Redact([]byte(key)), "--no-verify", "SKIP=atomyx-guard", "[[allow.fingerprints]]"},
		},
		{
			name: "commit -a scans the index git builds for it",
			stage: func(t *testing.T, repo string) []string {
				write(t, repo, "README", "hello\nkey: "+key+"\n")
				return []string{"-a", "-m", "leak via -a"}
			},
			blocked: true,
			want:    []string{"README:2:6"},
		},
		{
			name:  "chained hook runs first and still blocks on its own",
			chain: "#!/bin/sh\necho chained-hook-says-no >&2\nexit 3\n",
			stage: func(t *testing.T, repo string) []string {
				write(t, repo, "b.txt", "clean\n")
				testkit.Git(t, repo, "add", "b.txt")
				return []string{"-m", "clean but chained refuses"}
			},
			blocked: true,
			want:    []string{"chained-hook-says-no"},
		},
		{
			name:  "chained hook passes, then the scan blocks",
			chain: "#!/bin/sh\necho chained-hook-ran >&2\n",
			stage: func(t *testing.T, repo string) []string {
				write(t, repo, "c.txt", key+"\n")
				testkit.Git(t, repo, "add", "c.txt")
				return []string{"-m", "leak"}
			},
			blocked: true,
			want:    []string{"chained-hook-ran", "c.txt:1:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := newRepo(t)
			write(t, repo, "README", "hello\n")
			testkit.Git(t, repo, "add", "README")
			testkit.Git(t, repo, "commit", "-q", "-m", "init")
			if tt.chain != "" {
				writeHook(t, filepath.Join(repo, ".git", "hooks", Name), tt.chain)
			}
			if _, err := Install(context.Background(), repo, Options{Binary: filepath.Join(binDir, "atomyx-guard")}); err != nil {
				t.Fatal(err)
			}
			before := testkit.Git(t, repo, "rev-parse", "HEAD")
			code, out := commit(t, repo, tt.stage(t, repo)...)
			after := testkit.Git(t, repo, "rev-parse", "HEAD")
			if tt.blocked != (code != 0) || tt.blocked != (before == after) {
				t.Fatalf("blocked=%v but exit %d, HEAD moved %v; output:\n%s", tt.blocked, code, before != after, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, key) {
				t.Errorf("whole key in the hook's output")
			}
		})
	}
}
