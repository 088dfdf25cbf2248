package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/patterns"
)

func TestVaultServeAndIssue(t *testing.T) {
	dir := t.TempDir()
	var out, errOut testkit.Buffer
	o := &vaultServeOptions{
		Listen: "127.0.0.1:0", Data: dir, NoSync: true,
		sys: &IO{Out: &out, Err: &errOut, Getenv: func(string) string { return "" }},
	}
	urlc := make(chan string, 1)
	o.listening = func(u string) { urlc <- u }
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.run(sctx) }()
	var url string
	select {
	case url = <-urlc:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	}

	adminPath := filepath.Join(dir, server.AdminKeyFile)
	b, err := os.ReadFile(adminPath)
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(b))
	if s := out.String(); !strings.Contains(s, url) || !strings.Contains(s, patterns.Redact([]byte(admin))) || !strings.Contains(s, adminPath) {
		t.Errorf("serve printed %q: want the URL, the redacted admin key and its path", s)
	}

	// issue through the API, bearer from the file.
	r := runCLI(t, map[string]string{"ATOMYX_API_URL": url}, "vault", "issue", "--env", "production",
		"--products", "manage,submit", "--owner-org", "acme", "--owner-team", "payments", "--admin-key-file", adminPath)
	if r.code != 0 {
		t.Fatalf("issue exit %d: %s", r.code, r.errOut)
	}
	m := regexp.MustCompile(`(?m)^key: +(\S+)\nkey_id: +(key_\w+)\nfingerprint: +(sha256:[0-9a-f]{64})$`).FindStringSubmatch(r.out)
	if m == nil {
		t.Fatalf("issue printed %q", r.out)
	}
	key, id, fp := m[1], m[2], m[3]
	if !patterns.Valid([]byte(key)) || patterns.Fingerprint([]byte(key)) != fp || patterns.EnvironmentOf([]byte(key)) != patterns.Production {
		t.Fatalf("issued key does not match its fingerprint or environment")
	}
	if !strings.Contains(r.errOut, "only time") {
		t.Errorf("no warning that the key is shown once: %q", r.errOut)
	}

	// The Vault knows the key as issued; bearer from the environment this time.
	r2 := runCLI(t, map[string]string{"ATOMYX_API_KEY": admin}, "vault", "issue", "--api-url", url, "--env", "dev")
	if r2.code != 0 {
		t.Fatalf("issue with ATOMYX_API_KEY: exit %d: %s", r2.code, r2.errOut)
	}
	c, err := vault.New(vault.Config{BaseURL: url, APIKey: admin})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Verify(context.Background(), []string{fp})
	if got := res[fp]; err != nil || got.KeyID != id || got.Status != vault.StatusActive ||
		strings.Join(got.Products, ",") != "manage,submit" || got.Owner == nil || got.Owner.Team != "payments" {
		t.Errorf("verify = %+v, %v", got, err)
	}

	// --age dates a key in the past, for trying `rotate`.
	r3 := runCLI(t, map[string]string{"ATOMYX_API_KEY": admin}, "vault", "issue", "--api-url", url, "--env", "prd", "--age", "120d")
	m3 := regexp.MustCompile(`(?m)^key_id: +(key_\w+)$`).FindStringSubmatch(r3.out)
	if r3.code != 0 || m3 == nil {
		t.Fatalf("issue --age: exit %d: %s", r3.code, r3.errOut)
	}
	if info, err := c.Get(context.Background(), m3[1]); err != nil || info.CreatedAt == "" {
		t.Fatalf("get: %+v %v", info, err)
	} else if created, _ := time.Parse(time.RFC3339, info.CreatedAt); time.Since(created) < 119*24*time.Hour {
		t.Fatalf("created_at %s: not 120 days ago", info.CreatedAt)
	}
	if r := runCLI(t, map[string]string{"ATOMYX_API_KEY": admin}, "vault", "issue", "--api-url", url, "--env", "prd", "--age", "old"); r.code != ExitError {
		t.Fatalf("--age old: exit %d", r.code)
	}

	stop()
	if err := <-done; err != nil {
		t.Errorf("serve = %v, want a clean stop", err)
	}
	noWholeKey(t, []string{admin, key}, out.String(), errOut.String(), r.errOut)
	noWholeKey(t, []string{admin}, r.out, r2.out, r2.errOut)
}

func TestVaultServeFlags(t *testing.T) {
	dir := t.TempDir()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	run := func(args ...string) result {
		var out, errOut bytes.Buffer
		sys := &IO{Out: &out, Err: &errOut, Getenv: func(string) string { return "" }, IsTerminal: func(io.Writer) bool { return false }}
		code := Run(cancelled, append([]string{"vault", "serve", "--data", dir}, args...), sys)
		return result{code, out.String(), errOut.String()}
	}
	r := run("--listen", "127.0.0.1:0", "--fault-429", "0.2", "--fault-5xx", "0.1", "--fault-drop", "0.05",
		"--fault-latency", "200ms", "--fault-lose-reissue-response", "--fault-seed", "5")
	if r.code != 0 || !strings.Contains(r.out, "faults: latency 200ms, 429 0.20 (Retry-After 1s), 5xx 0.10, drop 0.05, lose reissue response true, seed 5") {
		t.Errorf("exit %d, out %q, err %q", r.code, r.out, r.errOut)
	}
	// A second start finds the admin key it made.
	if r := run("--listen", "127.0.0.1:0"); r.code != 0 || !strings.Contains(r.out, "admin key atmx_dev_") || strings.Contains(r.out, "created") {
		t.Errorf("restart: exit %d, out %q", r.code, r.out)
	}
	for _, tt := range []struct{ name, want string }{
		{"0.0.0.0:0", "not a loopback address"},
		{":8787", "not a loopback address"},
		{"192.0.2.1:8787", "--allow-remote"},
		{"nonsense", "--listen"},
	} {
		if r := run("--listen", tt.name); r.code != 2 || !strings.Contains(r.errOut, tt.want) {
			t.Errorf("--listen %s: exit %d, %q", tt.name, r.code, r.errOut)
		}
	}
	if r := run("--listen", "127.0.0.1:0", "--fault-5xx", "2"); r.code != 2 || !strings.Contains(r.errOut, "probability") {
		t.Errorf("--fault-5xx 2: exit %d, %q", r.code, r.errOut)
	}
}

func TestVaultIssueErrors(t *testing.T) {
	dir := t.TempDir()
	srv, err := server.Open(dir, server.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no bearer", nil, []string{"--env", "dev", "--api-url", "http://127.0.0.1:1"}, "ATOMYX_API_KEY"},
		{"missing key file", nil, []string{"--env", "dev", "--admin-key-file", filepath.Join(dir, "nope")}, "--admin-key-file"},
		{"plain http to a remote host", map[string]string{"ATOMYX_API_KEY": testkit.NewKey(t, patterns.Development)},
			[]string{"--env", "dev", "--api-url", "http://vault.example"}, "plain http"},
		{"no env", nil, []string{"--api-url", "http://127.0.0.1:1"}, "env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, append([]string{"vault", "issue"}, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.errOut, tt.want)
			}
		})
	}
}
