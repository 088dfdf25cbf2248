package serve_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/ghapp"
	"github.com/atomyx/atomyx-guard/internal/org"
	"github.com/atomyx/atomyx-guard/internal/org/orgtest"
	"github.com/atomyx/atomyx-guard/internal/serve"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	vaultserver "github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/internal/vault/vaulttest"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
	"github.com/atomyx/atomyx-guard/scanner"
)

// world is a local Vault, a fake GitHub, a smart-HTTP git server and a
// serve.Server over a fresh cache.
type world struct {
	t        testing.TB
	VaultURL string
	Admin    string
	GH       *ghfake.Server
	Git      *orgtest.GitServer
	Cache    string
	Secret   []byte
	Queue    *serve.Queue
	State    *org.State
	Journal  *journal.Journal
	Srv      *serve.Server
	Web      *httptest.Server
	URL      string // where deliveries go
	Log      *testkit.Buffer
	closed   bool
}

type worldOptions struct {
	MaxPerRepo, MaxTotal int
	Workers              int
	List                 func(ctx context.Context) ([]org.Repo, error)
	// VaultMiddleware wraps the local Vault's handler (the benchmark
	// times revocations there).
	VaultMiddleware func(http.Handler) http.Handler
	// App, when set, replaces the fixed GitHub token: installation tokens
	// fetch and respond.
	App *ghapp.App
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	w := &world{t: t, Cache: t.TempDir(), Log: &testkit.Buffer{}}
	var wrap []func(http.Handler) http.Handler
	if o.VaultMiddleware != nil {
		wrap = append(wrap, o.VaultMiddleware)
	}
	v := vaulttest.Start(t, vaultserver.Options{}, wrap...)
	w.VaultURL, w.Admin = v.URL, v.Admin
	w.GH = ghfake.New()
	w.GH.Token = "gh-token"
	t.Cleanup(w.GH.Close)
	w.GH.AddOrg("acme")
	w.Git = orgtest.NewGitServer(t)
	// Hex, as an operator's secret file holds text: serve trims a
	// trailing newline, which random bytes could end with.
	w.Secret = []byte(newID() + newID())
	w.open(o)
	return w
}

// open opens the cache's databases and a server on them (again after
// closeServer: a restart).
func (w *world) open(o worldOptions) {
	t := w.t
	if o.MaxPerRepo == 0 {
		o.MaxPerRepo = 100
	}
	if o.MaxTotal == 0 {
		o.MaxTotal = 1000
	}
	q, err := serve.OpenQueue(filepath.Join(w.Cache, "serve-queue.db"), serve.QueueOptions{MaxPerRepo: o.MaxPerRepo, MaxTotal: o.MaxTotal})
	if err != nil {
		t.Fatal(err)
	}
	st, err := org.OpenState(filepath.Join(w.Cache, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(filepath.Join(w.Cache, "journal.db"), journal.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := ghapi.New(ghapi.Config{Token: "gh-token", BaseURL: w.GH.URL(), MutationSpacing: -1,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := serve.Config{
		Secret: w.Secret, Queue: q, State: st,
		Mirror: &org.Mirror{Dir: filepath.Join(w.Cache, "repos")},
		Engine: &scanner.Engine{Detector: &scanner.Detector{}, Workers: 1},
		Vault:  w.vault(), GitHub: gh, Journal: j,
		Workers: max(o.Workers, 1), RetryBase: 10 * time.Millisecond, MaxAttempts: 3,
		ReconcileInterval: -1, List: o.List, ShutdownGrace: 5 * time.Second,
		Log: slog.New(slog.NewJSONHandler(w.Log, nil)),
	}
	if o.App != nil {
		cfg.GitHub, cfg.App = nil, o.App
		cfg.Mirror.TokenHosts = org.TokenHosts(w.GH.URL())
		cfg.NewGitHub = func(token string) (responder.GitHub, error) {
			return ghapi.New(ghapi.Config{Token: token, BaseURL: w.GH.URL(), MutationSpacing: -1,
				Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
		}
	}
	srv, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.Queue, w.State, w.Journal, w.Srv = q, st, j, srv
	w.Web = httptest.NewServer(srv.Handler())
	w.URL = w.Web.URL
	w.closed = false
	t.Cleanup(w.closeServer)
}

// closeServer stops the web server and closes the databases (idempotent).
func (w *world) closeServer() {
	if w.closed {
		return
	}
	w.closed = true
	w.Web.Close()
	w.Queue.Close()
	w.State.Close()
	w.Journal.Close()
}

func (w *world) vault() *vault.Client {
	c, err := vault.New(vault.Config{BaseURL: w.VaultURL, APIKey: w.Admin, Timeout: 5 * time.Second,
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetries: 8})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// work runs the workers until the test ends (or stop is called).
func (w *world) work() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Srv.Work(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	w.t.Cleanup(stop)
	return stop
}

// liveKey issues a production key and returns it.
func (w *world) liveKey(env patterns.Environment) vault.IssuedKey {
	w.t.Helper()
	ik, err := w.vault().Issue(context.Background(), vault.IssueRequest{Environment: string(env), Products: []string{"manage"},
		Owner: &finding.Owner{Org: "acme", Team: "payments"}}, "")
	if err != nil {
		w.t.Fatal(err)
	}
	return ik
}

// status is a key's status in the Vault.
func (w *world) status(key string) string {
	w.t.Helper()
	fp := patterns.Fingerprint([]byte(key))
	res, err := w.vault().Verify(context.Background(), []string{fp})
	if err != nil {
		w.t.Fatal(err)
	}
	return res[fp].Status
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// send posts a delivery signed with sig (Sign(secret, body) when "").
func (w *world) send(event, id string, body []byte, sig string) (int, http.Header, string) {
	w.t.Helper()
	if sig == "" {
		sig = serve.Sign(w.Secret, body)
	}
	req, _ := http.NewRequest(http.MethodPost, w.URL+"/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	if id != "" {
		req.Header.Set("X-GitHub-Delivery", id)
	}
	if sig != "-" {
		req.Header.Set(serve.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// repoJSON is a delivery's repository object for a served repository.
func (w *world) repoJSON(full string, private bool) map[string]any {
	return map[string]any{"full_name": full, "clone_url": w.Git.CloneURL(full), "default_branch": "main", "private": private}
}

func (w *world) pushBody(full, ref, before, after string, private bool) []byte {
	b, _ := json.Marshal(map[string]any{"ref": ref, "before": before, "after": after,
		"deleted": after == strings.Repeat("0", 40), "repository": w.repoJSON(full, private)})
	return b
}

// newRepo creates a served repository (and GitHub's record of it) with a
// first commit on main holding files.
func (w *world) newRepo(full string, private bool, files ...string) (*orgtest.Work, string) {
	w.t.Helper()
	owner, name, _ := strings.Cut(full, "/")
	w.GH.AddRepo(owner, name, private)
	wk := w.Git.NewRepo(w.t, full)
	return wk, wk.Commit("initial", append([]string{"README.md", "hello\n"}, files...)...)
}

// waitFor polls cond until it holds or the deadline (generous: this is a
// shared machine) passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var zero = strings.Repeat("0", 40)

func writeFile(dir, name, content string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
}
