package rotate_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/rotate"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/internal/vault/vaulttest"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// world is a local Vault and a fake GitHub.
type world struct {
	t        testing.TB
	clock    *testkit.Clock // the Vault's and the rotator's
	VaultURL string
	Admin    string
	GH       *ghfake.Server
}

var appSink = ghapi.SecretTarget{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"}

const issueRepo = "acme/security"

func newWorld(t testing.TB) *world {
	t.Helper()
	c := testkit.NewClock()
	v := vaulttest.Start(t, server.Options{Now: c.Now})
	gh := ghfake.New()
	gh.Token = "gh-token"
	gh.AddRepo("acme", "app", true)
	gh.AddRepo("acme", "security", true)
	gh.AddOrg("acme")
	t.Cleanup(gh.Close)
	return &world{t: t, clock: c, VaultURL: v.URL, Admin: v.Admin, GH: gh}
}

func (w *world) vault() *vault.Client {
	w.t.Helper()
	c, err := vault.New(vault.Config{BaseURL: w.VaultURL, APIKey: w.Admin, Timeout: 10 * time.Second, Backoff: time.Millisecond})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) github() *ghapi.Client {
	w.t.Helper()
	c, err := ghapi.New(ghapi.Config{Token: "gh-token", BaseURL: w.GH.URL(), MutationSpacing: -1})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// issue makes a key of org acme that is age old.
func (w *world) issue(env, team string, age time.Duration) vault.IssuedKey {
	w.t.Helper()
	req := vault.IssueRequest{Environment: env, Products: []string{"manage"}, Owner: &finding.Owner{Org: "acme", Team: team, Contact: team + "@acme.example"}}
	if age > 0 {
		req.CreatedAt = w.clock.Now().Add(-age).Format(time.RFC3339)
	}
	k, err := w.vault().Issue(context.Background(), req, "")
	if err != nil {
		w.t.Fatal(err)
	}
	return k
}

// active lists the ids of acme's active keys.
func (w *world) active() map[string]bool {
	w.t.Helper()
	out := map[string]bool{}
	for k, err := range w.vault().Keys(context.Background(), vault.ListQuery{Org: "acme"}) {
		if err != nil {
			w.t.Fatal(err)
		}
		out[k.KeyID] = true
	}
	return out
}

func (w *world) status(id string) string {
	w.t.Helper()
	info, err := w.vault().Get(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return info.Status
}

func openJournal(t testing.TB, path string) *journal.Journal {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "journal.db")
	}
	j, err := journal.Open(path, journal.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func policy(t testing.TB, toml string) config.RotatePolicy {
	t.Helper()
	c, err := config.Parse([]byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	return c.Rotate
}

func (w *world) rotator(t testing.TB, pol config.RotatePolicy, j *journal.Journal) *rotate.Rotator {
	t.Helper()
	r, err := rotate.New(rotate.Options{Org: "acme", Policy: pol, Vault: w.vault(), GitHub: w.github(), Journal: j,
		IssueRepo: issueRepo, Labels: []string{"security"}, Now: w.clock.Now, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run plans and, with apply, applies.
func run(t testing.TB, r *rotate.Rotator, apply, revokeUnused bool) *rotate.Plan {
	t.Helper()
	p, err := r.Plan(context.Background(), revokeUnused)
	if err != nil {
		t.Fatal(err)
	}
	if apply {
		if err := r.Apply(context.Background(), p, revokeUnused); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func item(t testing.TB, p *rotate.Plan, id string) rotate.Item {
	t.Helper()
	for _, it := range p.Items {
		if it.KeyID == id {
			return it
		}
	}
	t.Fatalf("key %s not in the plan", id)
	return rotate.Item{}
}

// openIssues returns the open issues of the issue repository that carry
// the key id's marker.
func (w *world) openIssues(id string) []ghfake.Issue {
	var out []ghfake.Issue
	for _, is := range w.GH.Issues(issueRepo) {
		if is.State == "open" && strings.Contains(is.Body, rotate.Marker(id)) {
			out = append(out, is)
		}
	}
	return out
}

func noKeyIn(t testing.TB, what, s string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if strings.Contains(s, k) {
			t.Fatalf("%s holds a whole key (%s)", what, patterns.Redact([]byte(k)))
		}
	}
}
