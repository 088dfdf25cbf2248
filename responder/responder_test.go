package responder_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// checkRotated asserts the end state of a rotation of the leaked key: one
// replacement, delivered to every sink and active; the leaked key revoked;
// one open issue; no whole key anywhere.
func checkRotated(t *testing.T, w *world, leaked string, ik vault.IssuedKey, out string, sinks []ghapi.SecretTarget, journals ...string) {
	t.Helper()
	fp := patterns.Fingerprint([]byte(leaked))
	if st := w.status(t, leaked); st != vault.StatusRevoked {
		t.Errorf("leaked key is %s, want revoked", st)
	}
	var replacement string
	for _, s := range sinks {
		v, ok := w.GH.SecretValue(s)
		if !ok {
			t.Fatalf("nothing delivered to %s", s)
		}
		if replacement == "" {
			replacement = v
		} else if v != replacement {
			t.Fatalf("%s holds another key than the other sinks", s)
		}
	}
	if len(sinks) > 0 {
		if !patterns.Valid([]byte(replacement)) || replacement == leaked {
			t.Fatal("the delivered value is not a new key")
		}
		if st := w.status(t, replacement); st != vault.StatusActive {
			t.Errorf("the delivered replacement is %s, want active", st)
		}
	}
	open, _ := w.leakIssues(fp)
	if len(open) != 1 {
		t.Fatalf("%d open issues for the key, want 1", len(open))
	}
	is := open[0]
	wantTitle := "Leaked Atomyx production key " + patterns.Redact([]byte(leaked)) + " in acme/app"
	if is.Title != wantTitle {
		t.Errorf("title %q, want %q", is.Title, wantTitle)
	}
	for _, l := range []string{"atomyx-leak", "env:production", "security"} {
		if !slices.Contains(is.Labels, l) {
			t.Errorf("issue lacks label %s: %v", l, is.Labels)
		}
	}
	for _, want := range []string{
		"https://github.com/acme/app/blob/0123456789abcdef0123456789abcdef01234567/config/app.env#L3",
		"https://github.com/acme/app/commit/0123456789abcdef0123456789abcdef01234567",
		fp, "acme / payments (payments@acme.example)", "manage, submit", "revoked the leaked key " + ik.KeyID,
	} {
		if !strings.Contains(is.Body, want) {
			t.Errorf("issue body lacks %q:\n%s", want, is.Body)
		}
	}
	secrets := [][]byte{[]byte(leaked)}
	if replacement != "" {
		secrets = append(secrets, []byte(replacement))
	}
	all := w.everything(t, out, journals...)
	for _, s := range secrets {
		if bytes.Contains(all, s) {
			t.Fatal("a whole key appears in an output, issue, journal or secret store in the clear")
		}
	}
	if replacement != "" {
		if n := w.replacements(t, ik.KeyID); n != 1 {
			t.Fatalf("%d replacements of the leaked key, want 1", n)
		}
	}
}

func TestRotateFullFlow(t *testing.T) {
	w := newWorld(t, server.Faults{})
	leaked, ik, f := w.leak(t, patterns.Production)
	jpath := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, jpath)
	out := &testkit.Buffer{}
	r := w.responder(t, j, out, func(c *responder.Config) {
		c.Policy = rotateTo("immediately", repoSink, envSink, orgSink)
	})
	sum, err := r.Run(context.Background(), []finding.Finding{f})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Count(responder.StateDone) != 1 {
		t.Fatalf("summary %+v", sum)
	}
	in, ok, err := j.Get(f.Fingerprint)
	if err != nil || !ok || !in.Done() || !in.Public || in.RevokeOld != "immediately" {
		t.Fatalf("journal: %+v %v %v", in, ok, err)
	}
	if in.Reissued == nil || in.Reissued.Sealed != nil || len(in.Delivered) != 3 || in.VerifiedAt.IsZero() || in.RevokedAt.IsZero() || in.Issue == nil {
		t.Fatalf("journal steps missing or sealed copy kept: %+v", in)
	}
	j.Close()
	checkRotated(t, w, leaked, ik, out.String(), []ghapi.SecretTarget{repoSink, envSink, orgSink}, jpath)
}

func TestSecondRunChangesNothing(t *testing.T) {
	w := newWorld(t, server.Faults{})
	leaked, ik, f := w.leak(t, patterns.Production)
	jpath := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, jpath)
	out := &testkit.Buffer{}
	if _, err := w.responder(t, j, out, nil).Run(context.Background(), []finding.Finding{f}); err != nil {
		t.Fatal(err)
	}
	w.GH.ResetRequests()
	sum, err := w.responder(t, j, out, nil).Run(context.Background(), []finding.Finding{f})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Count(responder.StateUnchanged) != 1 {
		t.Fatalf("second run: %+v", sum)
	}
	for _, rq := range w.GH.Requests() {
		if rq.Mutating() {
			t.Errorf("second run wrote to GitHub: %s %s", rq.Method, rq.Path)
		}
	}

	// A third run that finds the key in a new place comments on the
	// issue; a fourth changes nothing again.
	f2 := f
	f2.Locations = append(slices.Clone(f.Locations), finding.Location{Source: finding.SourceURL, URL: "https://app.acme.example/main.js", Line: 1})
	for i, want := range []string{responder.StateUpdated, responder.StateUnchanged} {
		sum, err = w.responder(t, j, out, nil).Run(context.Background(), []finding.Finding{f2})
		if err != nil || sum.Count(want) != 1 {
			t.Fatalf("run %d: %+v %v", i+3, sum, err)
		}
	}
	open, closed := w.leakIssues(f.Fingerprint)
	if len(open) != 1 || len(closed) != 0 {
		t.Fatalf("issues: %d open, %d closed", len(open), len(closed))
	}
	if c := open[0].Comments; len(c) != 1 || !strings.Contains(c[0], "https://app.acme.example/main.js") {
		t.Fatalf("comments %q", c)
	}
	j.Close()
	checkRotated(t, w, leaked, ik, out.String(), []ghapi.SecretTarget{repoSink, envSink}, jpath)
}

func TestLostReissueResponse(t *testing.T) {
	// The Vault commits the reissue and drops the answer, and the client
	// does not retry: the run fails after the Vault made the replacement.
	// The next run repeats the reissue with the same Idempotency-Key and
	// must get that same key: one replacement, never two.
	w := newWorld(t, server.Faults{LoseReissueResponse: true})
	leaked, ik, f := w.leak(t, patterns.Production)
	jpath := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, jpath)
	out := &testkit.Buffer{}
	// No keep-alive either: net/http replays a request that carries an
	// Idempotency-Key on a reused connection by itself.
	noRetry, err := vault.New(vault.Config{BaseURL: w.VaultURL, APIKey: w.Admin, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.responder(t, j, out, func(c *responder.Config) { c.Vault = noRetry }).Run(context.Background(), []finding.Finding{f})
	if err == nil || !strings.Contains(err.Error(), "reissue") {
		t.Fatalf("first run: want a failed reissue, got %v", err)
	}
	if in, _, _ := j.Get(f.Fingerprint); in.Reissued != nil {
		t.Fatal("the journal records a reissue whose answer was lost")
	}
	if _, err := w.responder(t, j, out, nil).Run(context.Background(), []finding.Finding{f}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	checkRotated(t, w, leaked, ik, out.String(), []ghapi.SecretTarget{repoSink, envSink}, jpath)
}

func TestFlakyVault(t *testing.T) {
	w := newWorld(t, server.Faults{RateLimit: 0.2, ServerError: 0.2, Drop: 0.1, Seed: 7})
	leaked, ik, f := w.leak(t, patterns.Production)
	jpath := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, jpath)
	out := &testkit.Buffer{}
	var err error
	for range 5 { // a run may fail on a bad streak; the next resumes it
		if _, err = w.responder(t, j, out, nil).Run(context.Background(), []finding.Finding{f}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	checkRotated(t, w, leaked, ik, out.String(), []ghapi.SecretTarget{repoSink, envSink}, jpath)
}

func TestRacingResponders(t *testing.T) {
	for _, mode := range []string{"separate journals", "one shared journal", "one journal file"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, server.Faults{})
			leaked, ik, f := w.leak(t, patterns.Production)
			dir := t.TempDir()
			out := &testkit.Buffer{}
			var shared *journal.Journal
			if mode == "one shared journal" {
				shared = openJournal(t, filepath.Join(dir, "shared.db"))
			}
			var (
				wg    sync.WaitGroup
				paths []string
				errs  = make([]error, 3)
			)
			for i := range 3 {
				p := filepath.Join(dir, "shared.db")
				if mode == "separate journals" {
					p = filepath.Join(dir, "j"+string(rune('a'+i))+".db")
				}
				if !slices.Contains(paths, p) {
					paths = append(paths, p)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					j := shared
					if j == nil {
						j = openJournal(t, p) // the file lock makes a second opener wait
						defer j.Close()
					}
					_, errs[i] = w.responder(t, j, out, nil).Run(context.Background(), []finding.Finding{f})
				}()
			}
			wg.Wait()
			if shared != nil {
				shared.Close()
			}
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			_, closed := w.leakIssues(f.Fingerprint)
			for _, c := range closed {
				if c.StateReason != "not_planned" || len(c.Comments) == 0 || !strings.HasPrefix(c.Comments[0], "Duplicate of #") {
					t.Errorf("a duplicate was closed without saying so: %+v", c)
				}
			}
			checkRotated(t, w, leaked, ik, out.String(), []ghapi.SecretTarget{repoSink, envSink}, paths...)
		})
	}
}

func TestGitHubMisbehaves(t *testing.T) {
	tests := []struct {
		name   string
		faults []ghfake.Fault
		// failsFirst: the first run fails (the fault does not go away by
		// waiting), the second run, without faults, finishes.
		failsFirst bool
		wantErr    string
	}{
		{name: "429 everywhere once", faults: []ghfake.Fault{{Kind: ghfake.RateLimit429, RetryAfter: 1, Times: 4}}},
		{name: "secondary 403 on writes", faults: []ghfake.Fault{{Method: http.MethodPost, Kind: ghfake.Secondary403, RetryAfter: 2, Times: 3}, {Method: http.MethodPut, Kind: ghfake.Secondary403, Times: 1}}},
		{name: "primary 403", faults: []ghfake.Fault{{Method: http.MethodGet, Kind: ghfake.Primary403, Times: 2}}},
		{name: "5xx on reads", faults: []ghfake.Fault{{Method: http.MethodGet, Kind: ghfake.ServerError, Status: 502, Times: 3}}},
		{name: "5xx on issue create", faults: []ghfake.Fault{{Method: http.MethodPost, Path: "/repos/acme/security/issues", Kind: ghfake.ServerError, Times: 1}}, failsFirst: true, wantErr: "500"},
		{name: "no secrets permission", faults: []ghfake.Fault{{Method: http.MethodPut, Kind: ghfake.Forbidden}}, failsFirst: true, wantErr: "needs Secrets: write"},
		{name: "no issues permission", faults: []ghfake.Fault{{Method: http.MethodPost, Path: "/repos/acme/security/issues", Kind: ghfake.Forbidden}}, failsFirst: true, wantErr: "needs Issues: write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, server.Faults{})
			leaked, ik, f := w.leak(t, patterns.Production)
			jpath := filepath.Join(t.TempDir(), "journal.db")
			j := openJournal(t, jpath)
			out := &testkit.Buffer{}
			for _, fl := range tt.faults {
				w.GH.Fail(fl)
			}
			_, err := w.responder(t, j, out, nil).Run(context.Background(), []finding.Finding{f})
			if tt.failsFirst {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("first run: want an error with %q, got %v", tt.wantErr, err)
				}
				w.GH.ClearFaults()
				_, err = w.responder(t, j, out, nil).Run(context.Background(), []finding.Finding{f})
			}
			if err != nil {
				t.Fatal(err)
			}
			j.Close()
			checkRotated(t, w, leaked, ik, out.String(), []ghapi.SecretTarget{repoSink, envSink}, jpath)
		})
	}
}

func TestPolicies(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		env       patterns.Environment
		mod       func(*responder.Config)
		loc       *finding.Location
		oldStatus string // of the leaked key at the end
		sealed    bool   // the replacement is sealed to the recipient
		body      []string
	}{
		{name: "development revokes by default", env: patterns.Development,
			mod:       func(c *responder.Config) { c.Policy = responder.DefaultPolicy },
			oldStatus: vault.StatusRevoked, body: []string{"policy: revoke", "Issue a new key in the Atomyx Vault"}},
		{name: "report only", env: patterns.Production,
			mod: func(c *responder.Config) {
				c.Policy = func(string) responder.Policy { return responder.Policy{Action: journal.Report} }
			},
			oldStatus: vault.StatusActive, body: []string{"policy: report", "The key is still active"}},
		{name: "rotate to the recipient", env: patterns.Staging,
			mod: func(c *responder.Config) {
				c.Policy = rotateTo("immediately")
				c.Recipient = id.Recipient()
			},
			oldStatus: vault.StatusRevoked, sealed: true, body: []string{"sealed the replacement to the operator", "respond show inc-"}},
		{name: "nowhere to deliver degrades to revoke", env: patterns.Production,
			mod:       func(c *responder.Config) { c.Policy = rotateTo("immediately") },
			oldStatus: vault.StatusRevoked, body: []string{"no delivery target and no recipient", "policy: revoke"}},
		{name: "private repository keeps a grace until verified", env: patterns.Production,
			mod: func(c *responder.Config) {
				c.Policy = rotateTo("15m", repoSink)
				c.Repo = "acme/internal"
			},
			oldStatus: vault.StatusRevoked, body: []string{"acme/internal is private (GitHub)", "kept working for at most 15m"}},
		{name: "private by configuration", env: patterns.Production,
			mod: func(c *responder.Config) {
				c.Policy = rotateTo("15m", repoSink)
				c.Visibility = "private"
			},
			oldStatus: vault.StatusRevoked, body: []string{"private (configured)", "at most 15m"}},
		{name: "a deployed site is public whatever the grace", env: patterns.Production,
			mod: func(c *responder.Config) {
				c.Policy = rotateTo("15m", repoSink)
				c.Repo = "acme/internal"
			},
			loc:       &finding.Location{Source: finding.SourceURL, URL: "https://app.acme.example/static/main.js", Line: 1},
			oldStatus: vault.StatusRevoked, body: []string{"deployed site", "stopped working at once", "https://app.acme.example/static/main.js"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, server.Faults{})
			leaked, _, f := w.leak(t, tt.env)
			if tt.loc != nil {
				f.Locations = append(f.Locations, *tt.loc)
			}
			jpath := filepath.Join(t.TempDir(), "journal.db")
			j := openJournal(t, jpath)
			defer j.Close()
			out := &testkit.Buffer{}
			if _, err := w.responder(t, j, out, tt.mod).Run(context.Background(), []finding.Finding{f}); err != nil {
				t.Fatal(err)
			}
			if st := w.status(t, leaked); st != tt.oldStatus {
				t.Errorf("leaked key is %s, want %s", st, tt.oldStatus)
			}
			open, _ := w.leakIssues(f.Fingerprint)
			if len(open) != 1 {
				t.Fatalf("%d issues", len(open))
			}
			for _, s := range tt.body {
				if !strings.Contains(open[0].Body, s) {
					t.Errorf("issue lacks %q:\n%s", s, open[0].Body)
				}
			}
			in, _, _ := j.Get(f.Fingerprint)
			if tt.sealed {
				if in.Reissued == nil || in.Reissued.SealedTo != "recipient" {
					t.Fatalf("not sealed to the recipient: %+v", in.Reissued)
				}
				var shown bytes.Buffer
				if err := responder.Show(j, in.ID, []age.Identity{id}, &shown); err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSpace(shown.String()), "\n")
				key := lines[len(lines)-1]
				if !patterns.Valid([]byte(key)) || w.status(t, key) != vault.StatusActive {
					t.Fatalf("show did not reveal an active replacement:\n%s", shown.String())
				}
				other, _ := age.GenerateX25519Identity()
				if err := responder.Show(j, in.ID, []age.Identity{other}, &bytes.Buffer{}); err == nil {
					t.Fatal("another identity opened the replacement")
				}
				if bytes.Contains(w.everything(t, out.String(), jpath), []byte(key)) {
					t.Fatal("the replacement appears in the clear")
				}
			}
			if bytes.Contains(w.everything(t, out.String(), jpath), []byte(leaked)) {
				t.Fatal("the leaked key appears in the clear")
			}
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld(t, server.Faults{})
	leaked, _, f := w.leak(t, patterns.Production)
	out := &testkit.Buffer{}
	r := w.responder(t, nil, out, func(c *responder.Config) { c.DryRun = true })
	sum, err := r.Run(context.Background(), []finding.Finding{f})
	if err != nil || sum.Count(responder.StatePlanned) != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	for _, rq := range w.GH.Requests() {
		if rq.Mutating() {
			t.Errorf("dry run wrote to GitHub: %s %s", rq.Method, rq.Path)
		}
	}
	if st := w.status(t, leaked); st != vault.StatusActive {
		t.Errorf("dry run changed the key: %s", st)
	}
	for _, want := range []string{"rotate", "reissue through the Vault", "deliver to github-secret:acme/app:ATOMYX_API_KEY", "revoke key_", "acme/security"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), leaked) {
		t.Fatal("the plan shows the key")
	}
}

func TestInactiveKeysAreLeftAlone(t *testing.T) {
	w := newWorld(t, server.Faults{})
	_, ik, f := w.leak(t, patterns.Production)
	if _, err := w.vault(t).Revoke(context.Background(), ik.KeyID, vault.RevokeRequest{Reason: "test"}, ""); err != nil {
		t.Fatal(err)
	}
	never, _ := patterns.Generate(patterns.Production)
	unknown := finding.Finding{Fingerprint: patterns.Fingerprint([]byte(never)), Redacted: patterns.Redact([]byte(never)), Environment: "production"}
	// A stale report says active: the responder must not trust it.
	f.Status = finding.Active
	j := openJournal(t, filepath.Join(t.TempDir(), "journal.db"))
	defer j.Close()
	sum, err := w.responder(t, j, &testkit.Buffer{}, nil).Run(context.Background(), []finding.Finding{f, unknown})
	if err != nil || sum.Count(responder.StateSkipped) != 2 {
		t.Fatalf("%+v %v", sum, err)
	}
	if n := len(w.GH.Issues(issueRepo)); n != 0 {
		t.Fatalf("%d issues for dead keys", n)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}
