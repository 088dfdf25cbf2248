package serve_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/org/orgtest"
	"github.com/atomyx/atomyx-guard/patterns"
)

// revokePolicy revokes a production key at once and opens an issue: one
// revocation and one issue per leaked key is what the variants count.
const revokePolicy = `[respond.environments.production]
action = "revoke"
`

// deliver sends one signed delivery and fails unless it is accepted.
func (w *world) deliver(event string, v map[string]any) {
	w.t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	if code, _, msg := w.send(event, newID(), body, ""); code != http.StatusAccepted {
		w.t.Fatalf("%s delivery: %d %s", event, code, msg)
	}
}

// drain waits until the queue is empty and fails if a batch was given up.
func (w *world) drain() {
	w.t.Helper()
	waitFor(w.t, "an empty queue", func() bool { return w.Queue.Depth() == 0 })
	if strings.Contains(w.Log.String(), "giving up") {
		w.t.Fatalf("a batch was given up; log:\n%s", w.Log.String())
	}
}

// push is a push delivery's payload.
func (w *world) push(full, ref, before, after string) map[string]any {
	return map[string]any{"ref": ref, "before": before, "after": after, "deleted": after == zero,
		"repository": w.repoJSON(full, false)}
}

// issuesAbout counts the issues of repo that name key's fingerprint.
func (w *world) issuesAbout(repo, key string) int {
	fp := patterns.Fingerprint([]byte(key))
	n := 0
	for _, is := range w.GH.Issues(repo) {
		if strings.Contains(is.Body, fp) {
			n++
		}
	}
	return n
}

// revokedOnce checks that every key in keys is revoked with exactly one
// issue about it, and that no other issue was opened.
func (w *world) revokedOnce(keys ...string) {
	w.t.Helper()
	for i, k := range keys {
		if st := w.status(k); st != "revoked" {
			w.t.Errorf("leaked key %d is %s, want revoked; log:\n%s", i, st, w.Log.String())
		}
		if n := w.issuesAbout("acme/app", k); n != 1 {
			w.t.Errorf("%d issues about leaked key %d, want 1", n, i)
		}
	}
	if n := len(w.GH.Issues("acme/app")); n != len(keys) {
		w.t.Errorf("%d issues, want %d (one per leaked key)", n, len(keys))
	}
}

// untouched checks that keys are still active.
func (w *world) untouched(keys ...string) {
	w.t.Helper()
	for i, k := range keys {
		if st := w.status(k); st != "active" {
			w.t.Errorf("key %d is %s, want active (outside what was pushed)", i, st)
		}
	}
}

// variant runs fn twice: on a service that has never scanned the
// repository (each delivery scoped as the Action scopes it) and on one
// whose state a first reconcile started (everything no scanned tip
// reaches).
func variant(t *testing.T, fn func(t *testing.T, w *world, wk *orgtest.Work, base string)) {
	for _, withState := range []bool{false, true} {
		name := "no state"
		if withState {
			name = "with state"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, worldOptions{})
			wk, base := w.newRepo("acme/app", false, ".atomyx-guard.toml", revokePolicy)
			w.work()
			if withState {
				w.deliver("repository", map[string]any{"action": "created", "repository": w.repoJSON("acme/app", false)})
				w.drain()
				if _, ok, _ := w.State.Get("acme/app"); !ok {
					t.Fatal("no state after a full scan")
				}
			}
			fn(t, w, wk, base)
		})
	}
}

// A new branch is scanned against the default branch: its own commit's
// key is revoked, a key only on the default branch (not pushed) is not.
func TestPushNewBranch(t *testing.T) {
	variant(t, func(t *testing.T, w *world, wk *orgtest.Work, base string) {
		leaked := w.liveKey(patterns.Production).Key.Reveal()
		wk.Git("checkout", "-q", "-b", "feature")
		after := wk.Commit("add config", "config/app.env", "ATOMYX_API_KEY="+leaked+"\n")
		w.deliver("push", w.push("acme/app", "refs/heads/feature", zero, after))
		w.drain()
		w.revokedOnce(leaked)
	})
}

// A force push scans the commits it brought, not those it dropped twice:
// each key pushed is revoked once, across both pushes.
func TestPushForce(t *testing.T) {
	variant(t, func(t *testing.T, w *world, wk *orgtest.Work, base string) {
		first := w.liveKey(patterns.Production).Key.Reveal()
		b := wk.Commit("leak one", "a.env", "KEY="+first+"\n")
		w.deliver("push", w.push("acme/app", "refs/heads/main", base, b))
		w.drain()
		w.revokedOnce(first)

		second := w.liveKey(patterns.Production).Key.Reveal()
		wk.Git("reset", "-q", "--hard", base)
		c := wk.Commit("leak two", "b.env", "KEY="+second+"\n") // pushed with -f
		w.deliver("push", w.push("acme/app", "refs/heads/main", b, c))
		w.drain()
		w.revokedOnce(first, second)
	})
}

// A force push whose previous tip the service never fetched is scanned
// from what it knows (the Action would scan everything).
func TestPushForceUnknownBefore(t *testing.T) {
	variant(t, func(t *testing.T, w *world, wk *orgtest.Work, base string) {
		leaked := w.liveKey(patterns.Production).Key.Reveal()
		wk.Commit("never delivered", "x.txt", "x\n")
		wk.Git("reset", "-q", "--hard", base)
		c := wk.Commit("leak", "b.env", "KEY="+leaked+"\n")
		w.deliver("push", w.push("acme/app", "refs/heads/main", strings.Repeat("e", 40), c))
		w.drain()
		w.revokedOnce(leaked)
	})
}

// A deleted branch brings nothing: its deletion is answered without a
// scan finding anything and without touching GitHub or the Vault.
func TestPushDeletedBranch(t *testing.T) {
	variant(t, func(t *testing.T, w *world, wk *orgtest.Work, base string) {
		key := w.liveKey(patterns.Production).Key.Reveal()
		wk.Git("checkout", "-q", "-b", "tmp")
		gone := wk.Commit("short-lived", "t.env", "KEY="+key+"\n")
		wk.Git("checkout", "-q", "main")
		wk.Git("branch", "-q", "-D", "tmp")
		wk.Push() // --prune: the branch is gone on the server
		_ = gone
		before := len(w.GH.Requests())
		w.deliver("push", w.push("acme/app", "refs/heads/tmp", gone, zero))
		w.drain()
		w.untouched(key)
		for _, r := range w.GH.Requests()[before:] {
			if r.Mutating() {
				t.Errorf("a deleted branch changed GitHub: %s %s", r.Method, r.Path)
			}
		}
	})
}

// A pushed annotated tag on a commit no branch holds: "after" is the tag
// object, the tagged commit's key is revoked once.
func TestPushTag(t *testing.T) {
	variant(t, func(t *testing.T, w *world, wk *orgtest.Work, base string) {
		leaked := w.liveKey(patterns.Production).Key.Reveal()
		wk.Git("checkout", "-q", "--detach")
		wk.Git("commit", "-q", "--allow-empty", "-m", "placeholder") // not pushed: detached
		if err := writeFile(wk.Dir, "release.env", "KEY="+leaked+"\n"); err != nil {
			t.Fatal(err)
		}
		wk.Git("add", "-A")
		wk.Git("commit", "-q", "-m", "release")
		wk.Git("tag", "-a", "v1", "-m", "v1")
		wk.Push()
		tagObj := wk.Git("rev-parse", "v1")
		w.deliver("push", w.push("acme/app", "refs/tags/v1", zero, tagObj))
		w.drain()
		w.revokedOnce(leaked)
	})
}

// A pull request from a fork: its head exists only as refs/pull/N/head,
// which the mirror fetches; opened and then synchronize with a second
// key give one revocation per key.
func TestPullRequestOpenedAndSynchronize(t *testing.T) {
	variant(t, func(t *testing.T, w *world, wk *orgtest.Work, base string) {
		pr := func(action, head string) map[string]any {
			return map[string]any{"action": action, "repository": w.repoJSON("acme/app", false),
				"pull_request": map[string]any{"number": 7, "base": map[string]any{"sha": base}, "head": map[string]any{"sha": head}}}
		}
		first := w.liveKey(patterns.Production).Key.Reveal()
		wk.Git("checkout", "-q", "-b", "fork")
		h1 := wk.Commit("fork work", "f.env", "KEY="+first+"\n")
		wk.Git("push", "-q", "-f", w.Git.Bare("acme/app"), "fork:refs/pull/7/head", ":refs/heads/fork")
		w.deliver("pull_request", pr("opened", h1))
		w.drain()
		w.revokedOnce(first)

		second := w.liveKey(patterns.Production).Key.Reveal()
		h2 := wk.Commit("more fork work", "g.env", "KEY="+second+"\n")
		wk.Git("push", "-q", "-f", w.Git.Bare("acme/app"), "fork:refs/pull/7/head", ":refs/heads/fork")
		w.deliver("pull_request", pr("synchronize", h2))
		w.drain()
		w.revokedOnce(first, second)
	})
}

// A private repository made public: its whole history is scanned and
// every grace becomes "immediately", where the same policy on a private
// repository keeps the old key working during its grace.
func TestRepositoryPublicized(t *testing.T) {
	const gracePolicy = `[respond.environments.production]
action = "rotate"
revoke_old = "1h"
deliver = ["github-secret:acme/app:ATOMYX_API_KEY"]
`
	for _, action := range []string{"created", "publicized"} {
		t.Run(action, func(t *testing.T) {
			w := newWorld(t, worldOptions{})
			w.GH.AddRepo("acme", "app", true)
			wk := w.Git.NewRepo(t, "acme/app")
			key := w.liveKey(patterns.Production).Key.Reveal()
			wk.Commit("initial", ".atomyx-guard.toml", gracePolicy, "old/app.env", "KEY="+key+"\n")
			wk.Commit("later", "README.md", "clean\n")
			w.work()
			w.deliver("repository", map[string]any{"action": action, "repository": w.repoJSON("acme/app", true)})
			w.drain()
			got, ok := w.GH.SecretValue(appSecret)
			if !ok || !patterns.Valid([]byte(got)) || w.status(got) != "active" {
				t.Fatalf("no live replacement delivered; log:\n%s", w.Log.String())
			}
			// The responder revokes the leaked key once the replacement is
			// verified either way; what differs is whether it let the old
			// key keep working for the policy's grace meanwhile.
			body := w.GH.Issues("acme/app")[0].Body
			graced := strings.Contains(body, "kept working for at most 1h")
			if graced != (action == "created") || (action == "publicized") != strings.Contains(body, "stopped working at once") {
				t.Fatalf("%s: grace applied %v; issue:\n%s", action, graced, body)
			}
			if st := w.status(key); st != "revoked" {
				t.Fatalf("old key %s, want revoked", st)
			}
			if n := w.issuesAbout("acme/app", key); n != 1 {
				t.Fatalf("%d issues, want 1", n)
			}
		})
	}
}

// A key pushed and pushed over before the service fetched: the commit is
// fetched by its id where the server allows it (GitHub does; git with
// uploadpack.allowAnySHA1InWant) and its key revoked once; where the
// server refuses, what the refs reach is scanned and the log says so.
func TestPushPushedOverBeforeFetch(t *testing.T) {
	for _, allow := range []bool{true, false} {
		t.Run(fmt.Sprintf("server allows by id %v", allow), func(t *testing.T) {
			variant(t, func(t *testing.T, w *world, wk *orgtest.Work, base string) {
				if allow {
					orgtest.Git(t, w.Git.Bare("acme/app"), "config", "uploadpack.allowAnySHA1InWant", "true")
				}
				leaked := w.liveKey(patterns.Production).Key.Reveal()
				b := wk.Commit("leak", "a.env", "KEY="+leaked+"\n")
				wk.Git("reset", "-q", "--hard", base)
				c := wk.Commit("pushed over", "b.txt", "clean\n")
				w.deliver("push", w.push("acme/app", "refs/heads/main", base, b))
				w.deliver("push", w.push("acme/app", "refs/heads/main", b, c))
				w.drain()
				if allow {
					w.revokedOnce(leaked)
					return
				}
				w.untouched(leaked)
				if !strings.Contains(w.Log.String(), "not fetchable by id") {
					t.Fatalf("the log does not say the pushed commit was not scanned:\n%s", w.Log.String())
				}
			})
		})
	}
}
