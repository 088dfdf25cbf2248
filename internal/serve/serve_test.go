package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/org"
	"github.com/atomyx/atomyx-guard/internal/serve"
	"github.com/atomyx/atomyx-guard/patterns"
)

const rotatePolicy = `[respond.environments.production]
action = "rotate"
revoke_old = "immediately"
deliver = ["github-secret:acme/app:ATOMYX_API_KEY"]
`

var appSecret = ghapi.SecretTarget{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"}

func TestSignatureChecks(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.newRepo("acme/app", false)
	body := w.pushBody("acme/app", "refs/heads/main", zero, strings.Repeat("a", 40), false)
	other := serve.Sign([]byte("another secret"), body)
	tampered := append(bytes.Clone(body[:len(body)-1]), ' ', '}')
	cases := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"missing", body, "-", http.StatusUnauthorized},
		{"wrong secret", body, other, http.StatusUnauthorized},
		{"tampered body", tampered, serve.Sign(w.Secret, body), http.StatusUnauthorized},
		{"sha1 algorithm", body, "sha1=" + strings.TrimPrefix(serve.Sign(w.Secret, body), "sha256="), http.StatusUnauthorized},
		{"no algorithm", body, strings.TrimPrefix(serve.Sign(w.Secret, body), "sha256="), http.StatusUnauthorized},
		{"empty", body, "sha256=", http.StatusUnauthorized},
	}
	for _, c := range cases {
		code, _, _ := w.send("push", newID(), c.body, c.sig)
		if code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, code, c.want)
		}
	}
	if d := w.Queue.Depth(); d != 0 {
		t.Fatalf("rejected deliveries were queued: depth %d", d)
	}
	// A signed body that is not JSON is refused only after the
	// signature: unsigned garbage gets 401, never a parse error.
	if code, _, _ := w.send("push", newID(), []byte("{not json"), "-"); code != http.StatusUnauthorized {
		t.Errorf("unsigned garbage: %d, want 401", code)
	}
	if code, _, _ := w.send("push", newID(), []byte("{not json"), ""); code != http.StatusBadRequest {
		t.Errorf("signed garbage: %d, want 400", code)
	}
	if code, _, _ := w.send("push", "bad id/../x", body, ""); code != http.StatusBadRequest {
		t.Errorf("bad delivery id: %d, want 400", code)
	}

	id := newID()
	if code, _, _ := w.send("push", id, body, ""); code != http.StatusAccepted {
		t.Fatalf("valid delivery: %d, want 202", code)
	}
	if code, _, msg := w.send("push", id, body, ""); code != http.StatusOK || !strings.Contains(msg, "already") {
		t.Fatalf("replayed delivery id: %d %q, want 200 already accepted", code, msg)
	}
	if d := w.Queue.Depth(); d != 1 {
		t.Fatalf("depth %d after one delivery and its replay, want 1", d)
	}
	big := make([]byte, serve.MaxBody+1)
	if code, _, _ := w.send("push", newID(), big, ""); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d, want 413", code)
	}
}

func TestEventKindsAccepted(t *testing.T) {
	w := newWorld(t, worldOptions{})
	repo := w.repoJSON("acme/app", false)
	js := func(v map[string]any) []byte { b, _ := json.Marshal(v); return b }
	pr := func(action string) []byte {
		return js(map[string]any{"action": action, "repository": repo, "pull_request": map[string]any{"number": 7,
			"base": map[string]any{"sha": strings.Repeat("b", 40)}, "head": map[string]any{"sha": strings.Repeat("c", 40)}}})
	}
	cases := []struct {
		event string
		body  []byte
		code  int
		depth int
	}{
		{"ping", js(map[string]any{"zen": "hi", "hook_id": 1}), http.StatusOK, 0},
		{"issues", js(map[string]any{"action": "opened", "repository": repo}), http.StatusAccepted, 0},
		{"pull_request", pr("closed"), http.StatusAccepted, 0},
		{"repository", js(map[string]any{"action": "deleted", "repository": repo}), http.StatusAccepted, 0},
		{"pull_request", pr("opened"), http.StatusAccepted, 1},
		{"pull_request", pr("synchronize"), http.StatusAccepted, 2},
		{"repository", js(map[string]any{"action": "created", "repository": repo}), http.StatusAccepted, 3},
		{"repository", js(map[string]any{"action": "publicized", "repository": repo}), http.StatusAccepted, 4},
		{"push", w.pushBody("acme/app", "refs/tags/v1", zero, strings.Repeat("d", 40), false), http.StatusAccepted, 5},
	}
	for _, c := range cases {
		code, _, msg := w.send(c.event, newID(), c.body, "")
		if code != c.code || w.Queue.Depth() != c.depth {
			t.Errorf("%s: %d %q depth %d, want %d depth %d", c.event, code, msg, w.Queue.Depth(), c.code, c.depth)
		}
	}
}

func TestFullQueueAnswers503(t *testing.T) {
	w := newWorld(t, worldOptions{MaxPerRepo: 1, MaxTotal: 2})
	send := func(repo string) (int, string) {
		code, h, _ := w.send("push", newID(), w.pushBody(repo, "refs/heads/main", strings.Repeat("1", 40), strings.Repeat("2", 40), false), "")
		return code, h.Get("Retry-After")
	}
	if code, _ := send("acme/one"); code != http.StatusAccepted {
		t.Fatalf("first: %d", code)
	}
	if code, ra := send("acme/one"); code != http.StatusServiceUnavailable || ra == "" {
		t.Fatalf("over the per-repository bound: %d Retry-After %q, want 503 with Retry-After", code, ra)
	}
	if code, _ := send("acme/two"); code != http.StatusAccepted {
		t.Fatalf("another repository: %d", code)
	}
	if code, ra := send("acme/three"); code != http.StatusServiceUnavailable || ra == "" {
		t.Fatalf("over the total bound: %d Retry-After %q", code, ra)
	}
	if d := w.Queue.Depth(); d != 2 {
		t.Fatalf("depth %d, want 2", d)
	}
}

// TestPushRevokesOnce is the whole flow: a signed push of a commit holding
// a live key leads to one revocation, one replacement delivered and one
// issue; the same delivery again changes nothing. The pushed commit also
// tries to allowlist its own key: the policy comes from the default
// branch as it was, so that changes nothing either.
func TestPushRevokesOnce(t *testing.T) {
	w := newWorld(t, worldOptions{})
	wk, base := w.newRepo("acme/app", false, ".atomyx-guard.toml", rotatePolicy)
	ik := w.liveKey(patterns.Production)
	key := ik.Key.Reveal()
	allow := rotatePolicy + "\n[[allow.fingerprints]]\nfingerprint = \"" + patterns.Fingerprint([]byte(key)) + "\"\nreason = \"mine\"\n"
	// The pushed commit sits on a branch (the default branch's policy
	// stays as it was) and is then pushed.
	wk.Git("checkout", "-q", "-b", "feature")
	after := wk.Commit("add config", "config/app.env", "ATOMYX_API_KEY="+key+"\n", ".atomyx-guard.toml", allow)
	w.work()
	id := newID()
	body := w.pushBody("acme/app", "refs/heads/feature", zero, after, false)
	if code, _, msg := w.send("push", id, body, ""); code != http.StatusAccepted {
		t.Fatalf("push: %d %s", code, msg)
	}
	waitFor(t, "an empty queue", func() bool { return w.Queue.Depth() == 0 })
	if st := w.status(key); st != "revoked" {
		t.Fatalf("key %s after processing; log:\n%s", st, w.Log.String())
	}
	assertOneResponse(t, w, key)
	_ = base

	before := len(w.GH.Requests())
	if code, _, _ := w.send("push", id, body, ""); code != http.StatusOK {
		t.Fatalf("redelivery: %d, want 200", code)
	}
	if d := w.Queue.Depth(); d != 0 {
		t.Fatalf("redelivery queued: depth %d", d)
	}
	for _, r := range w.GH.Requests()[before:] {
		if r.Mutating() {
			t.Fatalf("redelivery changed GitHub: %s %s", r.Method, r.Path)
		}
	}
	assertOneResponse(t, w, key)
	if strings.Contains(w.Log.String(), key) {
		t.Fatal("the log holds the whole key")
	}
}

// assertOneResponse checks one issue about the key and one replacement,
// delivered and live.
func assertOneResponse(t *testing.T, w *world, key string) {
	t.Helper()
	fp := patterns.Fingerprint([]byte(key))
	n := 0
	for _, is := range w.GH.Issues("acme/app") {
		if strings.Contains(is.Body, fp) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d issues about the key in acme/app, want 1", n)
	}
	got, ok := w.GH.SecretValue(appSecret)
	if !ok || !patterns.Valid([]byte(got)) || got == key {
		t.Fatalf("no replacement delivered to acme/app ATOMYX_API_KEY")
	}
	if st := w.status(got); st != "active" {
		t.Fatalf("replacement is %s, want active", st)
	}
}

// gate is a git server in front of the real one that holds every request
// until opened: a delivery is acknowledged and cannot be processed yet.
type gate struct {
	*httptest.Server
	open chan struct{}
}

func newGate(t *testing.T, next http.Handler) *gate {
	g := &gate{open: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-g.open:
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(rw, r)
	}))
	t.Cleanup(g.Server.Close)
	return g
}

// TestGracefulShutdownKeepsQueued: a delivery acknowledged while its
// repository cannot be fetched stays queued through a shutdown and is
// processed after the restart.
func TestGracefulShutdownKeepsQueued(t *testing.T) {
	w := newWorld(t, worldOptions{})
	wk, base := w.newRepo("acme/app", false, ".atomyx-guard.toml", rotatePolicy)
	g := newGate(t, w.Git.Config.Handler)
	key := w.liveKey(patterns.Production).Key.Reveal()
	after := wk.Commit("leak", "app.env", "KEY="+key+"\n")
	body, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": base, "after": after,
		"repository": map[string]any{"full_name": "acme/app", "clone_url": g.URL + "/acme/app.git", "default_branch": "main"}})

	w.Web.Close() // serve on a listener of our own, through Serve
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Srv.Serve(ctx, ln) }()
	w.URL = "http://" + ln.Addr().String()
	if code, _, _ := w.send("push", newID(), body, ""); code != http.StatusAccepted {
		t.Fatalf("push: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(w.URL + "/healthz"); err == nil {
		t.Fatal("still accepting after shutdown")
	}
	if d := w.Queue.Depth(); d != 1 {
		t.Fatalf("depth %d after shutdown, want the delivery kept", d)
	}
	if st := w.status(key); st != "active" {
		t.Fatalf("key %s before restart", st)
	}
	w.closeServer()
	close(g.open)
	w.open(worldOptions{})
	w.work()
	waitFor(t, "revocation after restart", func() bool { return w.status(key) == "revoked" })
	waitFor(t, "an empty queue", func() bool { return w.Queue.Depth() == 0 })
	assertOneResponse(t, w, key)
}

// TestReconcileAfterDowntime: commits pushed while no delivery arrived
// are found by the catch-up, from the tips the state remembers.
func TestReconcileAfterDowntime(t *testing.T) {
	var w *world
	list := func(context.Context) ([]org.Repo, error) {
		return []org.Repo{{Name: "app", FullName: "acme/app", CloneURL: w.Git.CloneURL("acme/app"), DefaultBranch: "main"}}, nil
	}
	w = newWorld(t, worldOptions{List: list})
	wk, _ := w.newRepo("acme/app", false, ".atomyx-guard.toml", rotatePolicy)
	w.work()
	if err := w.Srv.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first reconcile", func() bool { _, ok, _ := w.State.Get("acme/app"); return ok && w.Queue.Depth() == 0 })
	key := w.liveKey(patterns.Production).Key.Reveal()
	wk.Commit("leak while down", "app.env", "KEY="+key+"\n") // no delivery
	if err := w.Srv.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "revocation by reconcile", func() bool { return w.status(key) == "revoked" })
	waitFor(t, "an empty queue", func() bool { return w.Queue.Depth() == 0 })
	assertOneResponse(t, w, key)
}
