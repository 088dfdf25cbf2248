package serve_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/cli"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /healthz says 200 while the queue and the state answer, 503 when one
// of them does not (a closed database stands for a broken disk).
func TestHealthz(t *testing.T) {
	w := newWorld(t, worldOptions{})
	if code, body := get(t, w.URL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthy: %d %q", code, body)
	}
	w.State.Close()
	if code, _ := get(t, w.URL+"/healthz"); code != http.StatusServiceUnavailable {
		t.Fatalf("state closed: %d, want 503", code)
	}
	w.Queue.Close()
	if code, _ := get(t, w.URL+"/healthz"); code != http.StatusServiceUnavailable {
		t.Fatalf("queue closed: %d, want 503", code)
	}
}

// /metrics, after a push that leaked a key and a rejected delivery, has
// every documented series, and no label carries the key, its fingerprint,
// a repository or a delivery id: atomyx_guard_* labels are a closed set.
func TestMetricsContent(t *testing.T) {
	w := newWorld(t, worldOptions{})
	wk, base := w.newRepo("acme/app", false, ".atomyx-guard.toml", revokePolicy)
	key := w.liveKey(patterns.Production).Key.Reveal()
	after := wk.Commit("leak", "app.env", "KEY="+key+"\n")
	w.work()
	id := newID()
	body, _ := json.Marshal(w.push("acme/app", "refs/heads/main", base, after))
	if code, _, _ := w.send("push", id, body, ""); code != http.StatusAccepted {
		t.Fatalf("push: %d", code)
	}
	if code, _, _ := w.send("push", newID(), body, "sha256=00"); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", code)
	}
	w.drain()
	_, text := get(t, w.URL+"/metrics")
	for _, want := range []string{
		`atomyx_guard_deliveries_received_total{event="push"} 1`,
		`atomyx_guard_deliveries_rejected_total{reason="signature"} 1`,
		`atomyx_guard_deliveries_processed_total{kind="push",outcome="done"} 1`,
		`atomyx_guard_findings_total{environment="production"} 1`,
		`atomyx_guard_revocations_total{environment="production"} 1`,
		`atomyx_guard_queue_depth 0`,
		`atomyx_guard_scan_seconds_count 1`,
		`atomyx_guard_response_seconds_count 1`,
		`atomyx_guard_delivery_to_response_seconds_count 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	fp := patterns.Fingerprint([]byte(key))
	for _, secret := range []string{key, key[:12], fp, strings.TrimPrefix(fp, "sha256:")[:16], "acme/app", id} {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics holds %q", secret[:min(len(secret), 8)])
		}
	}
	allowed := map[string]bool{"event": true, "reason": true, "kind": true, "outcome": true, "environment": true, "le": true}
	label := regexp.MustCompile(`([a-z_]+)="`)
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "atomyx_guard_") {
			continue
		}
		for _, m := range label.FindAllStringSubmatch(line, -1) {
			if !allowed[m[1]] {
				t.Errorf("unexpected label %q in %s", m[1], line)
			}
		}
	}
}

// `serve --log-format json` writes one JSON object per line, through a
// whole flow (start, a push revoking a key, shutdown), and no line holds
// the whole key.
func TestLogFormatJSON(t *testing.T) {
	w := newWorld(t, worldOptions{})
	wk, base := w.newRepo("acme/app", false, ".atomyx-guard.toml", revokePolicy)
	key := w.liveKey(patterns.Production).Key.Reveal()
	after := wk.Commit("leak", "app.env", "KEY="+key+"\n")
	w.closeServer()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, append(w.Secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_TOKEN": "gh-token", "GITHUB_API_URL": w.GH.URL(),
		"ATOMYX_API_URL": w.VaultURL, "ATOMYX_API_KEY": w.Admin}
	stderr, stop := runServeCLI(t, w, env, "--webhook-secret-file", secretFile)
	body, _ := json.Marshal(w.push("acme/app", "refs/heads/main", base, after))
	if code, _, _ := w.send("push", newID(), body, ""); code != http.StatusAccepted {
		t.Fatalf("push: %d", code)
	}
	waitFor(t, "revocation", func() bool { return w.status(key) == "revoked" })
	waitFor(t, "the response logged", func() bool { return strings.Contains(stderr.String(), `"msg":"response"`) })
	if code := stop(); code != 0 {
		t.Errorf("exit %d after cancellation, want 0", code)
	}
	out := stderr.String()
	if strings.Contains(out, key) {
		t.Fatal("the log holds the whole key")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil || v["msg"] == nil || v["level"] == nil || v["time"] == nil {
			t.Errorf("not a JSON log record: %q", patterns.Scrub(l))
		}
	}
	for _, want := range []string{`"msg":"listening"`, `"msg":"queued"`, `"msg":"response"`, `"msg":"stopped"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

// runServeCLI runs `atomyx-guard serve` in process (cli.Run) on the
// world's cache with env, waits until it listens and points w.URL at it;
// stop cancels it and returns its exit code.
func runServeCLI(t *testing.T, w *world, env map[string]string, args ...string) (*testkit.Buffer, func() int) {
	t.Helper()
	stderr := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--cache", w.Cache,
			"--log-format", "json", "--reconcile-interval", "0", "--shutdown-grace", "1s"}, args...),
			&cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: stderr, Getenv: func(k string) string { return env[k] }})
	}()
	var once sync.Once
	code := 0
	stop := func() int { once.Do(func() { cancel(); code = <-done }); return code }
	t.Cleanup(func() { stop() })
	waitFor(t, "listening", func() bool {
		select {
		case c := <-done:
			t.Fatalf("serve exited %d: %s", c, stderr.String())
		default:
		}
		return listening.MatchString(stderr.String())
	})
	w.URL = "http://" + listening.FindStringSubmatch(stderr.String())[1]
	return stderr, stop
}

// `serve --app-id --app-key-file` (no GITHUB_TOKEN) answers a push with
// its installation's token; the key is read from a file only, and the
// flags go together.
func TestServeCLIWithApp(t *testing.T) {
	w := newWorld(t, worldOptions{})
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	w.GH.Token = "not-given-to-serve"
	w.GH.App(12, &k.PublicKey, time.Hour)
	wk, base := w.newRepo("acme/app", false, ".atomyx-guard.toml", revokePolicy)
	key := w.liveKey(patterns.Production).Key.Reveal()
	after := wk.Commit("leak", "app.env", "KEY="+key+"\n")
	w.closeServer()
	dir := t.TempDir()
	secretFile, keyFile := filepath.Join(dir, "secret"), filepath.Join(dir, "app.pem")
	os.WriteFile(secretFile, w.Secret, 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600)
	env := map[string]string{"GITHUB_API_URL": w.GH.URL(), "ATOMYX_API_URL": w.VaultURL, "ATOMYX_API_KEY": w.Admin}

	if code := cli.Run(context.Background(), []string{"serve", "--cache", w.Cache, "--webhook-secret-file", secretFile, "--app-id", "12"},
		&cli.IO{Out: io.Discard, Err: io.Discard, Getenv: func(k string) string { return env[k] }}); code != cli.ExitError {
		t.Fatalf("--app-id without --app-key-file: exit %d, want %d", code, cli.ExitError)
	}
	_, stop := runServeCLI(t, w, env, "--webhook-secret-file", secretFile, "--app-id", "12", "--app-key-file", keyFile)
	body, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": base, "after": after,
		"repository": w.repoJSON("acme/app", false), "installation": map[string]any{"id": 3}})
	if code, _, msg := w.send("push", newID(), body, ""); code != http.StatusAccepted {
		t.Fatalf("push: %d %s", code, msg)
	}
	waitFor(t, "revocation", func() bool { return w.status(key) == "revoked" })
	waitFor(t, "one issue", func() bool { return len(w.GH.Issues("acme/app")) == 1 })
	if n := w.GH.Minted(3); n != 1 {
		t.Fatalf("%d tokens minted for installation 3, want 1", n)
	}
	stop()
}
