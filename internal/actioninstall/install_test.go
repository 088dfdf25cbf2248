package actioninstall

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeBinary is what the stand-in release ships: a script that says it ran.
const fakeBinary = "#!/bin/sh\necho \"released atomyx-guard $*\"\n"

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return b.Bytes()
}

// releases stands in for GitHub's release downloads: /<tag>/<asset>.
type releases struct {
	mu     sync.Mutex
	assets map[string][]byte
	asked  []string
}

func (r *releases) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, req.URL.Path)
	body, ok := r.assets[req.URL.Path]
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Write(body)
}

// release publishes v1.2.3 for linux/amd64 as GoReleaser names it; sum
// overrides the checksum listed (a tampered archive or file).
func release(t *testing.T, sum func(archive []byte) string) *releases {
	archive := tarGz(t, map[string]string{"atomyx-guard": fakeBinary, "README.md": "readme\n"})
	h := sha256.Sum256(archive)
	listed := hex.EncodeToString(h[:])
	if sum != nil {
		listed = sum(archive)
	}
	other := sha256.Sum256([]byte("another archive"))
	return &releases{assets: map[string][]byte{
		"/v1.2.3/atomyx-guard_1.2.3_linux_amd64.tar.gz": archive,
		"/v1.2.3/atomyx-guard_1.2.3_checksums.txt": []byte(fmt.Sprintf("%s  atomyx-guard_1.2.3_darwin_arm64.tar.gz\n%s  atomyx-guard_1.2.3_linux_amd64.tar.gz\n",
			hex.EncodeToString(other[:]), listed)),
	}}
}

type run struct {
	code           int
	stdout, stderr string
	outputs        map[string]string
	binDir         string
}

func script(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	p, err := filepath.Abs(filepath.Join("..", "..", "scripts", "action-install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runScript(t *testing.T, mode, ref, baseURL string, extraEnv ...string) run {
	t.Helper()
	tmp := t.TempDir()
	out := filepath.Join(tmp, "github_output")
	binDir := filepath.Join(tmp, "bin")
	cmd := exec.Command("bash", script(t), mode)
	cmd.Env = append(os.Environ(),
		"ATOMYX_GUARD_REF="+ref, "ATOMYX_GUARD_RELEASES_URL="+baseURL, "ATOMYX_GUARD_BIN_ROOT="+binDir,
		"RUNNER_OS=Linux", "RUNNER_ARCH=X64", "GITHUB_OUTPUT="+out, "GITHUB_ACTIONS=true")
	cmd.Env = append(cmd.Env, extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String(), outputs: map[string]string{}, binDir: binDir}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			r.outputs[k] = v
		}
	}
	return r
}

func TestVerifiedReleaseRuns(t *testing.T) {
	rel := release(t, nil)
	srv := httptest.NewServer(rel)
	defer srv.Close()
	r := runScript(t, "download", "v1.2.3", srv.URL)
	if r.code != 0 || r.outputs["found"] != "true" || r.outputs["source"] != "release" {
		t.Fatalf("exit %d, outputs %v\n%s", r.code, r.outputs, r.stderr)
	}
	if want := filepath.Join(r.binDir, "v1.2.3-linux-amd64", "atomyx-guard"); r.outputs["path"] != want {
		t.Errorf("path %q, want %q", r.outputs["path"], want)
	}
	out, err := exec.Command(r.outputs["path"], "version").CombinedOutput()
	if err != nil || string(out) != "released atomyx-guard version\n" {
		t.Errorf("installed binary: %q, %v", out, err)
	}
}

// TestWrongChecksumRefuses: an archive whose SHA-256 is not the one the
// release lists is never run, and there is no quiet fallback: the step
// fails, saying why.
func TestWrongChecksumRefuses(t *testing.T) {
	for name, sum := range map[string]func([]byte) string{
		"tampered archive": func(a []byte) string {
			h := sha256.Sum256(append(a, 0))
			return hex.EncodeToString(h[:])
		},
		"not listed":   func([]byte) string { return "" },
		"not a digest": func([]byte) string { return "$(touch /tmp/pwned)" },
	} {
		t.Run(name, func(t *testing.T) {
			rel := release(t, sum)
			if name == "not listed" {
				rel.assets["/v1.2.3/atomyx-guard_1.2.3_checksums.txt"] = []byte("0000  something_else.tar.gz\n")
			}
			srv := httptest.NewServer(rel)
			defer srv.Close()
			r := runScript(t, "download", "v1.2.3", srv.URL)
			if r.code == 0 {
				t.Fatalf("exit 0 with a bad checksum; outputs %v\n%s", r.outputs, r.stderr)
			}
			if r.outputs["found"] != "" || r.outputs["path"] != "" {
				t.Errorf("outputs %v: a refused binary must not be offered, nor a fallback", r.outputs)
			}
			if found, _ := filepath.Glob(filepath.Join(r.binDir, "*", "atomyx-guard*")); len(found) > 0 {
				t.Errorf("the unverified binary was installed: %v", found)
			}
			if !strings.Contains(r.stdout, "::error title=atomyx-guard install::") || !strings.Contains(r.stderr, "refusing") && !strings.Contains(r.stderr, "no valid SHA-256") {
				t.Errorf("no loud refusal:\nstdout %s\nstderr %s", r.stdout, r.stderr)
			}
		})
	}
}

// TestNoReleaseFallsBackToBuilding: a tag with no release (404) and a
// branch ref both say found=false with a cache key of the ref, OS, arch
// and source; the build then works even under a consumer's hostile Go
// settings.
func TestNoReleaseFallsBackToBuilding(t *testing.T) {
	rel := release(t, nil)
	srv := httptest.NewServer(rel)
	defer srv.Close()

	missing := runScript(t, "download", "v9.9.9", srv.URL)
	if missing.code != 0 || missing.outputs["found"] != "false" {
		t.Fatalf("missing release: exit %d, outputs %v\n%s", missing.code, missing.outputs, missing.stderr)
	}
	if k := missing.outputs["cache-key"]; !strings.HasPrefix(k, "atomyx-guard-bin-linux-amd64-v9.9.9-") || len(k) < len("atomyx-guard-bin-linux-amd64-v9.9.9-")+16 {
		t.Errorf("cache key %q", k)
	}
	// actions/cache restores only the very path it saved: the directory
	// is the same from run to run (the key under the root).
	if k := missing.outputs["cache-key"]; missing.outputs["bin-dir"] != filepath.Join(missing.binDir, k) || missing.outputs["path"] != filepath.Join(missing.binDir, k, "atomyx-guard") {
		t.Errorf("bin-dir %q, path %q for key %q", missing.outputs["bin-dir"], missing.outputs["path"], k)
	}

	before := len(rel.asked)
	branch := runScript(t, "download", "feature/x y", srv.URL)
	if branch.code != 0 || branch.outputs["found"] != "false" || len(rel.asked) != before {
		t.Fatalf("branch ref: exit %d, outputs %v, %d requests\n%s", branch.code, branch.outputs, len(rel.asked)-before, branch.stderr)
	}
	if k := branch.outputs["cache-key"]; !strings.HasPrefix(k, "atomyx-guard-bin-linux-amd64-feature_x_y-") {
		t.Errorf("cache key %q", k)
	}

	if testing.Short() {
		t.Skip("-short: not building the binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go on PATH")
	}
	// A consumer job's settings that broke the old action's build.
	hostile := []string{"GOFLAGS=-mod=vendor", "GOWORK=" + filepath.Join(t.TempDir(), "go.work"), "GOENV=" + filepath.Join(t.TempDir(), "nope"),
		"GOOS=plan9", "CGO_ENABLED=1", "GOTOOLCHAIN=local", "GOPROXY=off", "GOMODCACHE=" + goEnv(t, "GOMODCACHE")}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the stand-in runner is linux/amd64")
	}
	built := runScript(t, "build", "feature/x", srv.URL, append(hostile, "ATOMYX_GUARD_BIN_DIR="+filepath.Join(t.TempDir(), "b"))...)
	if built.code != 0 || built.outputs["source"] != "build" {
		t.Fatalf("build: exit %d, outputs %v\n%s", built.code, built.outputs, built.stderr)
	}
	out, err := exec.Command(built.outputs["path"], "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "atomyx-guard 0.0.0-dev+feature-x ") {
		t.Errorf("built binary: %q, %v", out, err)
	}
}

func goEnv(t *testing.T, key string) string {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
