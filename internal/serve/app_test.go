package serve_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/ghapp"
	"github.com/atomyx/atomyx-guard/patterns"
)

// With GitHub App credentials, a push from installation 77 is fetched and
// answered with a token minted for installation 77 (GitHub accepts no
// other token here), once for several pushes; a delivery that names no
// installation cannot be answered and is given up, not answered with
// some other installation's token.
func TestAppInstallationTokens(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var w *world
	app := &ghapp.App{ID: 9, Key: k}
	w = newWorld(t, worldOptions{App: app})
	app.BaseURL = w.GH.URL()
	w.GH.Token = "not-given-to-serve" // only installation tokens pass
	w.GH.App(9, &k.PublicKey, time.Hour)
	w.Git.Token = "" // anonymous fetches pass too; Authed counts the token's use
	wk, base := w.newRepo("acme/app", false, ".atomyx-guard.toml", revokePolicy)
	w.work()
	withInst := func(v map[string]any, id int64) map[string]any {
		v["installation"] = map[string]any{"id": id}
		return v
	}

	first := w.liveKey(patterns.Production).Key.Reveal()
	b := wk.Commit("leak", "a.env", "KEY="+first+"\n")
	w.deliver("push", withInst(w.push("acme/app", "refs/heads/main", base, b), 77))
	w.drain()
	second := w.liveKey(patterns.Production).Key.Reveal()
	c := wk.Commit("leak again", "b.env", "KEY="+second+"\n")
	w.deliver("push", withInst(w.push("acme/app", "refs/heads/main", b, c), 77))
	w.drain()
	w.revokedOnce(first, second)
	if n := w.GH.Minted(77); n != 1 {
		t.Fatalf("%d tokens minted for installation 77, want 1 (cached)", n)
	}
	if w.Git.Authed.Load() == 0 {
		t.Fatal("the mirror fetched without the installation token")
	}

	third := w.liveKey(patterns.Production).Key.Reveal()
	d := wk.Commit("no installation", "c.env", "KEY="+third+"\n")
	w.deliver("push", w.push("acme/app", "refs/heads/main", c, d))
	waitFor(t, "an empty queue", func() bool { return w.Queue.Depth() == 0 })
	if st := w.status(third); st != "active" {
		t.Fatalf("a delivery without an installation was answered (key %s)", st)
	}
	// The repository's installation is remembered: the catch-up answers
	// what that delivery could not.
	if err := w.Srv.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "revocation by reconcile", func() bool { return w.status(third) == "revoked" })
}
