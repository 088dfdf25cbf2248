package serve_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
)

// buildBinary builds atomyx-guard once for the subprocess tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "atomyx-guard")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/atomyx-guard").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

var listening = regexp.MustCompile(`"msg":"listening","addr":"([0-9.:]+)"`)

// startServe runs `atomyx-guard serve` against the world's servers and
// returns the process and its address.
func startServe(t *testing.T, bin string, w *world, secretFile string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--cache", w.Cache, "--webhook-secret-file", secretFile,
		"--log-format", "json", "--reconcile-interval", "0", "--workers", "1", "--shutdown-grace", "1s"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GITHUB_TOKEN=gh-token", "GITHUB_API_URL="+w.GH.URL(),
		"ATOMYX_API_URL="+w.VaultURL, "ATOMYX_API_KEY="+w.Admin, "HOME="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return nil, ""
}

// TestSIGKILLBetweenAckAndProcessing: a delivery acknowledged while its
// repository cannot be fetched yet survives kill -9 of the process and is
// processed once after the restart; its redelivery then changes nothing.
func TestSIGKILLBetweenAckAndProcessing(t *testing.T) {
	bin := buildBinary(t)
	w := newWorld(t, worldOptions{})
	wk, base := w.newRepo("acme/app", false, ".atomyx-guard.toml", rotatePolicy)
	g := newGate(t, w.Git.Config.Handler)
	key := w.liveKey(patterns.Production).Key.Reveal()
	after := wk.Commit("leak", "app.env", "KEY="+key+"\n")
	body, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": base, "after": after,
		"repository": map[string]any{"full_name": "acme/app", "clone_url": g.URL + "/acme/app.git", "default_branch": "main"}})
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, append(w.Secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	w.closeServer() // the subprocess owns the cache's databases

	cmd, url := startServe(t, bin, w, secretFile)
	w.URL = url
	id := newID()
	if code, _, msg := w.send("push", id, body, ""); code != http.StatusAccepted {
		t.Fatalf("push: %d %s", code, msg)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if st := w.status(key); st != "active" {
		t.Fatalf("key %s before the restart: the test did not kill between ack and processing", st)
	}
	close(g.open)
	cmd, url = startServe(t, bin, w, secretFile)
	w.URL = url
	waitFor(t, "revocation after restart", func() bool { return w.status(key) == "revoked" })
	waitFor(t, "one issue", func() bool { return len(w.GH.Issues("acme/app")) == 1 })
	if code, _, _ := w.send("push", id, body, ""); code != http.StatusOK {
		t.Fatalf("redelivery after restart: %d, want 200 (already accepted)", code)
	}
	// A graceful stop (SIGTERM) exits 0 once the queue is empty.
	waitFor(t, "metrics showing an empty queue", func() bool {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return regexp.MustCompile(`(?m)^atomyx_guard_queue_depth 0$`).Match(b)
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v, want exit 0", err)
	}
	w.open(worldOptions{})
	assertOneResponse(t, w, key)
}
