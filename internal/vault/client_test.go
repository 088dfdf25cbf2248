package vault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/internal/vault/vaulttest"
	"github.com/atomyx/atomyx-guard/patterns"
)

var ctx = context.Background()

// localVault is the real local Vault on a loopback port, with this
// file's helpers.
type localVault struct{ *vaulttest.Vault }

func startVault(t *testing.T, opts server.Options, wrap ...func(http.Handler) http.Handler) *localVault {
	t.Helper()
	return &localVault{vaulttest.Start(t, opts, wrap...)}
}

func (v *localVault) client(t *testing.T, key string, mod ...func(*vault.Config)) (*vault.Client, *testkit.Sleeps) {
	t.Helper()
	s := &testkit.Sleeps{}
	cfg := vault.Config{BaseURL: v.URL, APIKey: key, Sleep: s.Sleep}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func (v *localVault) issue(t *testing.T, req vault.IssueRequest) vault.IssuedKey {
	t.Helper()
	c, _ := v.client(t, v.Admin)
	k, err := c.Issue(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fingerprint(t *testing.T) string {
	return patterns.Fingerprint([]byte(testkit.NewKey(t, patterns.Production)))
}

func TestNew(t *testing.T) {
	key := testkit.NewKey(t, patterns.Production)
	tests := []struct {
		name, url, key string
		ok             bool
	}{
		{"https", "https://api.atomyx.io", key, true},
		{"https with path", "https://vault.example/api/", key, true},
		{"default", "", key, true},
		{"http loopback v4", "http://127.0.0.1:8787", key, true},
		{"http loopback v6", "http://[::1]:8787", key, true},
		{"http localhost", "http://localhost:8787", key, true},
		{"http remote", "http://api.atomyx.io", key, false},
		{"http private address", "http://10.0.0.1:8787", key, false},
		{"ftp", "ftp://api.atomyx.io", key, false},
		{"credentials in url", "https://user:pw@api.atomyx.io", key, false},
		{"query", "https://api.atomyx.io/?x=1", key, false},
		{"no host", "https://", key, false},
		{"no key", "https://api.atomyx.io", "", false},
		{"key with newline", "https://api.atomyx.io", key + "\nX-Evil: 1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := vault.New(vault.Config{BaseURL: tt.url, APIKey: tt.key})
			if (err == nil) != tt.ok {
				t.Fatalf("New = %v, want ok %v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Error("the error carries the key")
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("ATOMYX_API_URL", "")
	t.Setenv("ATOMYX_API_KEY", " k ")
	if c := vault.ConfigFromEnv(); c.BaseURL != vault.DefaultBaseURL || c.APIKey != "k" {
		t.Errorf("defaults: %+v", c)
	}
	t.Setenv("ATOMYX_API_URL", "http://127.0.0.1:8787")
	if c := vault.ConfigFromEnv(); c.BaseURL != "http://127.0.0.1:8787" {
		t.Errorf("from env: %+v", c)
	}
}

func TestVerifyBatchesDedupesCaches(t *testing.T) {
	v := startVault(t, server.Options{})
	a := v.issue(t, vault.IssueRequest{Environment: "production", Products: []string{"manage"}})
	b := v.issue(t, vault.IssueRequest{Environment: "staging"})
	fps := []string{a.Key.Fingerprint(), b.Key.Fingerprint()}
	for range 248 {
		fps = append(fps, fingerprint(t))
	}
	dup := append(slices.Clone(fps), fps[:50]...) // 300 with 50 repeats
	c, _ := v.client(t, v.Admin)
	res, err := c.Verify(ctx, dup)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 250 {
		t.Fatalf("%d results, want 250", len(res))
	}
	if st := c.Stats(); st.Calls != 3 || st.Retries != 0 {
		t.Errorf("stats %+v, want 3 calls (100+100+50)", st)
	}
	if res[fps[0]].Status != vault.StatusActive || res[fps[0]].KeyID != a.KeyID || res[fps[1]].KeyID != b.KeyID {
		t.Errorf("issued keys: %+v %+v", res[fps[0]], res[fps[1]])
	}
	for _, fp := range fps[2:] {
		if res[fp].Status != vault.StatusUnknown || res[fp].Fingerprint != fp {
			t.Fatalf("unknown %s = %+v", fp, res[fp])
		}
	}
	// Known fingerprints come from the cache; only the new one is sent.
	extra := fingerprint(t)
	res, err = c.Verify(ctx, append(fps[:120:120], extra))
	if err != nil || len(res) != 121 {
		t.Fatalf("second verify: %d results, %v", len(res), err)
	}
	if st := c.Stats(); st.Calls != 4 || st.CacheHits != 120 {
		t.Errorf("stats %+v, want 4 calls and 120 cache hits", st)
	}
	// Nothing to ask: no call.
	if _, err := c.Verify(ctx, nil); err != nil || c.Stats().Calls != 4 {
		t.Errorf("empty verify: %v, %d calls", err, c.Stats().Calls)
	}
	// A key this client revokes is asked about again.
	if _, err := c.Revoke(ctx, a.KeyID, vault.RevokeRequest{Reason: "test"}, ""); err != nil {
		t.Fatal(err)
	}
	res, err = c.Verify(ctx, fps[:2])
	if err != nil || res[fps[0]].Status != vault.StatusRevoked || res[fps[1]].Status != vault.StatusActive {
		t.Errorf("after revoke: %+v, %v", res, err)
	}
	if st := c.Stats(); st.Calls != 6 || st.CacheHits != 121 {
		t.Errorf("stats %+v, want 6 calls (revoke, verify of one) and 121 cache hits", st)
	}
}

func TestVerifyRejectsMalformedFingerprints(t *testing.T) {
	v := startVault(t, server.Options{})
	c, _ := v.client(t, v.Admin)
	key := testkit.NewKey(t, patterns.Production)
	for _, bad := range []string{key, "sha256:", strings.ToUpper(fingerprint(t)), fingerprint(t) + "0", ""} {
		_, err := c.Verify(ctx, []string{fingerprint(t), bad})
		if err == nil || strings.Contains(err.Error(), key) {
			t.Errorf("Verify(%s) = %v", patterns.Redact([]byte(bad)), err)
		}
	}
	if c.Stats().Calls != 0 {
		t.Errorf("%d calls for malformed input, want 0", c.Stats().Calls)
	}
}

func TestAPIErrors(t *testing.T) {
	v := startVault(t, server.Options{})
	admin, _ := v.client(t, v.Admin)
	target := v.issue(t, vault.IssueRequest{Environment: "dev"})
	verifier := v.issue(t, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleVerify}}).Key.Reveal()
	plain := v.issue(t, vault.IssueRequest{Environment: "dev"}).Key.Reveal() // no roles
	stranger := testkit.NewKey(t, patterns.Production)
	if _, err := admin.Reissue(ctx, target.KeyID, vault.ReissueRequest{Reason: "a"}, "used"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		bearer   string
		call     func(*vault.Client) error
		sentinel error
		status   int
		contains string
	}{
		{"unknown bearer", stranger, func(c *vault.Client) error { _, err := c.Verify(ctx, []string{fingerprint(t)}); return err },
			vault.ErrUnauthenticated, 401, "ATOMYX_API_KEY"},
		{"verify without role", plain, func(c *vault.Client) error { _, err := c.Verify(ctx, []string{fingerprint(t)}); return err },
			vault.ErrForbidden, 403, "lacks the role keys:verify"},
		{"revoke without role", verifier, func(c *vault.Client) error {
			_, err := c.Revoke(ctx, target.KeyID, vault.RevokeRequest{Reason: "x"}, "")
			return err
		}, vault.ErrForbidden, 403, "lacks the role keys:revoke"},
		{"issue without role", verifier, func(c *vault.Client) error {
			_, err := c.Issue(ctx, vault.IssueRequest{Environment: "dev"}, "")
			return err
		}, vault.ErrForbidden, 403, "lacks the role keys:issue"},
		{"unknown id", v.Admin, func(c *vault.Client) error { _, err := c.Get(ctx, "key_01ARZ3NDEKTSV4RRFFQ69G5FAV"); return err },
			vault.ErrNotFound, 404, "not_found"},
		{"conflict", v.Admin, func(c *vault.Client) error {
			_, err := c.Reissue(ctx, target.KeyID, vault.ReissueRequest{Reason: "b"}, "used")
			return err
		}, vault.ErrConflict, 409, "different request"},
		{"bad request", v.Admin, func(c *vault.Client) error {
			_, err := c.Reissue(ctx, target.KeyID, vault.ReissueRequest{Reason: "x", RevokeOld: "48h"}, "")
			return err
		}, vault.ErrBadRequest, 400, "revoke_old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, sl := v.client(t, tt.bearer)
			err := tt.call(c)
			var ae *vault.APIError
			if !errors.Is(err, tt.sentinel) || !errors.As(err, &ae) || ae.Status != tt.status {
				t.Fatalf("err = %v, want %v (%d)", err, tt.sentinel, tt.status)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("%q lacks %q", err, tt.contains)
			}
			if strings.Contains(err.Error(), tt.bearer) {
				t.Error("the error carries the bearer key")
			}
			if st := c.Stats(); st.Calls != 1 || len(sl.Waits()) != 0 {
				t.Errorf("%d calls, %d waits: want one call, no retry", st.Calls, len(sl.Waits()))
			}
			for _, s := range []error{vault.ErrBadRequest, vault.ErrUnauthenticated, vault.ErrForbidden, vault.ErrNotFound, vault.ErrConflict, vault.ErrUnavailable} {
				if s != tt.sentinel && errors.Is(err, s) {
					t.Errorf("also matches %v", s)
				}
			}
		})
	}
}

func TestRetries(t *testing.T) {
	t.Run("429 waits Retry-After, capped", func(t *testing.T) {
		v := startVault(t, server.Options{Faults: server.Faults{RateLimit: 1, RetryAfter: 3 * time.Second}})
		c, sl := v.client(t, v.Admin, func(c *vault.Config) { c.MaxRetries = 2; c.MaxRetryAfter = time.Second })
		_, err := c.Verify(ctx, []string{fingerprint(t)})
		if !errors.Is(err, vault.ErrRateLimited) || !errors.Is(err, vault.ErrUnavailable) {
			t.Fatalf("err = %v, want rate limited, given up", err)
		}
		if w := sl.Waits(); !slices.Equal(w, []time.Duration{time.Second, time.Second}) {
			t.Errorf("waits %v, want [1s 1s]", w)
		}
		if st := c.Stats(); st.Calls != 3 || st.Retries != 2 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("429 Retry-After within the cap", func(t *testing.T) {
		v := startVault(t, server.Options{Faults: server.Faults{RateLimit: 1, RetryAfter: 2 * time.Second}})
		c, sl := v.client(t, v.Admin, func(c *vault.Config) { c.MaxRetries = 1 })
		_, _ = c.Get(ctx, "key_x")
		if w := sl.Waits(); !slices.Equal(w, []time.Duration{2 * time.Second}) {
			t.Errorf("waits %v, want [2s]", w)
		}
	})
	t.Run("5xx backs off exponentially", func(t *testing.T) {
		v := startVault(t, server.Options{Faults: server.Faults{ServerError: 1}})
		c, sl := v.client(t, v.Admin, func(c *vault.Config) {
			c.MaxRetries = 4
			c.Backoff = 100 * time.Millisecond
			c.MaxBackoff = 400 * time.Millisecond
		})
		_, err := c.Verify(ctx, []string{fingerprint(t)})
		if !errors.Is(err, vault.ErrUnavailable) || !strings.Contains(err.Error(), "gave up after 5 attempts") {
			t.Fatalf("err = %v", err)
		}
		w := sl.Waits()
		caps := []time.Duration{100, 200, 400, 400}
		if len(w) != len(caps) || c.Stats().Calls != 5 {
			t.Fatalf("waits %v, calls %d", w, c.Stats().Calls)
		}
		for i, d := range w {
			hi := caps[i] * time.Millisecond
			if d < hi/2 || d > hi {
				t.Errorf("wait %d = %v, want in [%v, %v]", i, d, hi/2, hi)
			}
		}
	})
	t.Run("MaxElapsed bounds the waits", func(t *testing.T) {
		v := startVault(t, server.Options{Faults: server.Faults{ServerError: 1}})
		c, sl := v.client(t, v.Admin, func(c *vault.Config) {
			c.MaxRetries = 100
			c.Backoff, c.MaxBackoff = time.Second, time.Second
			c.MaxElapsed = 3 * time.Second
		})
		_, err := c.Get(ctx, "key_x")
		var sum time.Duration
		for _, d := range sl.Waits() {
			sum += d
		}
		if !errors.Is(err, vault.ErrUnavailable) || sum > 3*time.Second || len(sl.Waits()) < 2 || c.Stats().Calls > 7 {
			t.Errorf("err %v, waits %v (sum %v), calls %d", err, sl.Waits(), sum, c.Stats().Calls)
		}
	})
	t.Run("dropped connections", func(t *testing.T) {
		v := startVault(t, server.Options{Faults: server.Faults{Drop: 1}})
		c, _ := v.client(t, v.Admin, func(c *vault.Config) { c.MaxRetries = 3 })
		_, err := c.Verify(ctx, []string{fingerprint(t)})
		if !errors.Is(err, vault.ErrUnavailable) || c.Stats().Calls != 4 {
			t.Errorf("err %v after %d calls, want unavailable after 4", err, c.Stats().Calls)
		}
		if strings.Contains(err.Error(), v.Admin) {
			t.Error("the error carries the bearer key")
		}
	})
	t.Run("mixed faults pass", func(t *testing.T) {
		v := startVault(t, server.Options{Faults: server.Faults{Drop: 0.2, RateLimit: 0.2, ServerError: 0.2, Seed: 3}})
		k := v.issue(t, vault.IssueRequest{Environment: "dev"}) // issue may need retries too
		c, _ := v.client(t, v.Admin, func(c *vault.Config) { c.MaxRetries = 20 })
		for range 20 {
			res, err := c.Verify(ctx, []string{k.Key.Fingerprint(), fingerprint(t)})
			if err != nil || res[k.Key.Fingerprint()].Status != vault.StatusActive {
				t.Fatalf("verify = %v, %v", res, err)
			}
		}
		if c.Stats().Retries == 0 {
			t.Error("no retries at a 60% fault rate")
		}
	})
	t.Run("cancel stops waiting", func(t *testing.T) {
		v := startVault(t, server.Options{Faults: server.Faults{RateLimit: 1, RetryAfter: time.Hour}})
		c, err := vault.New(vault.Config{BaseURL: v.URL, APIKey: v.Admin, MaxRetryAfter: time.Hour, MaxElapsed: 2 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		if _, err := c.Get(cctx, "key_x"); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want canceled", err)
		}
	})
}

// idemRecorder records the Idempotency-Key of every request that reaches
// the server, faults or not.
type idemRecorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *idemRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/reissue") || strings.HasSuffix(req.URL.Path, "/revoke") {
			r.mu.Lock()
			r.keys = append(r.keys, req.Header.Get("Idempotency-Key"))
			r.mu.Unlock()
		}
		h.ServeHTTP(w, req)
	})
}

func TestRetriesKeepTheIdempotencyKey(t *testing.T) {
	for _, given := range []string{"mine", ""} {
		t.Run(fmt.Sprintf("key %q", given), func(t *testing.T) {
			rec := &idemRecorder{}
			v := startVault(t, server.Options{Faults: server.Faults{ServerError: 0.5, Drop: 0.2, Seed: 11}}, rec.wrap)
			old := v.issue(t, vault.IssueRequest{Environment: "production"})
			c, _ := v.client(t, v.Admin, func(c *vault.Config) { c.MaxRetries = 30 })
			nk, err := c.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "leaked"}, given)
			if err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			keys := slices.Clone(rec.keys)
			rec.mu.Unlock()
			if len(keys) < 2 {
				t.Fatalf("%d attempts; the seed should force retries", len(keys))
			}
			for _, k := range keys {
				if k == "" || k != keys[0] || (given != "" && k != given) {
					t.Fatalf("Idempotency-Keys %q: want one, non-empty", keys)
				}
			}
			res, err := c.Verify(ctx, []string{nk.Key.Fingerprint(), old.Key.Fingerprint()})
			if err != nil || res[nk.Key.Fingerprint()].Status != vault.StatusActive || res[old.Key.Fingerprint()].Status != vault.StatusRevoked {
				t.Errorf("after reissue: %+v, %v", res, err)
			}
		})
	}
}

func TestReissueSurvivesALostResponse(t *testing.T) {
	v := startVault(t, server.Options{Faults: server.Faults{LoseReissueResponse: true}})
	old := v.issue(t, vault.IssueRequest{Environment: "production", Products: []string{"submit"}})
	c, _ := v.client(t, v.Admin)
	nk, err := c.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "leaked"}, "lost-once")
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "leaked"}, "lost-once")
	if err != nil || again.Key.Reveal() != nk.Key.Reveal() {
		t.Fatalf("a later retry got another key (%v)", err)
	}
	res, _ := c.Verify(ctx, []string{nk.Key.Fingerprint()})
	if got := res[nk.Key.Fingerprint()]; got.Status != vault.StatusActive || got.KeyID != nk.KeyID {
		t.Errorf("the key the client got is not the committed one: %+v", got)
	}
	if s := fmt.Sprintf("%v %+v %#v", nk, nk, nk); strings.Contains(s, nk.Key.Reveal()) {
		t.Error("an IssuedKey prints its key")
	}
}

func TestVerifyFindings(t *testing.T) {
	v := startVault(t, server.Options{})
	owner := &finding.Owner{Org: "acme", Team: "payments"}
	active := v.issue(t, vault.IssueRequest{Environment: "production", Products: []string{"manage", "submit"}, Owner: owner})
	revoked := v.issue(t, vault.IssueRequest{Environment: "staging"})
	admin, _ := v.client(t, v.Admin)
	if _, err := admin.Revoke(ctx, revoked.KeyID, vault.RevokeRequest{Reason: "test"}, ""); err != nil {
		t.Fatal(err)
	}
	unknown := fingerprint(t)
	fs := []finding.Finding{
		{Fingerprint: active.Key.Fingerprint(), Status: finding.Unverified},
		{Fingerprint: revoked.Key.Fingerprint(), Status: finding.Unverified},
		{Fingerprint: unknown, Status: finding.Unverified, KeyID: "stale"},
		{Fingerprint: "sha256:nope", Status: finding.Unverified},
	}
	c, _ := v.client(t, v.Admin)
	err := c.VerifyFindings(ctx, fs)
	if err == nil || !strings.Contains(err.Error(), "1 findings have a malformed fingerprint") {
		t.Errorf("err = %v, want the malformed one counted", err)
	}
	f := fs[0]
	if f.Status != finding.Active || f.KeyID != active.KeyID || *f.Owner != *owner || strings.Join(f.Products, ",") != "manage,submit" ||
		f.CreatedAt == "" || f.StatusReason != "" {
		t.Errorf("active finding = %+v", f)
	}
	if fs[1].Status != finding.Revoked || fs[1].KeyID != revoked.KeyID {
		t.Errorf("revoked finding = %+v", fs[1])
	}
	if fs[2].Status != finding.Unknown || fs[2].KeyID != "" {
		t.Errorf("unknown finding = %+v", fs[2])
	}
	if fs[3].Status != finding.Unverified || fs[3].StatusReason == "" {
		t.Errorf("malformed finding = %+v", fs[3])
	}

	// A Vault that cannot answer leaves the findings unverified, with why.
	down := startVault(t, server.Options{Faults: server.Faults{ServerError: 1}})
	dc, _ := down.client(t, down.Admin, func(c *vault.Config) { c.MaxRetries = 1 })
	fs2 := []finding.Finding{{Fingerprint: unknown, Status: finding.Unverified}}
	err = dc.VerifyFindings(ctx, fs2)
	if !errors.Is(err, vault.ErrUnavailable) || fs2[0].Status != finding.Unverified || !strings.Contains(fs2[0].StatusReason, "503") {
		t.Errorf("down: err %v, finding %+v", err, fs2[0])
	}
}

// TestUntrustedAnswers checks what the client makes of answers the local
// Vault never gives: a server under someone else's control may echo keys,
// send garbage or break the contract. These are the only fake servers in
// the package's tests.
func TestUntrustedAnswers(t *testing.T) {
	bearer := testkit.NewKey(t, patterns.Production)
	leaked := testkit.NewKey(t, patterns.Production)
	fp := fingerprint(t)
	bad := []byte(testkit.NewKey(t, patterns.Production))
	bad[46] ^= 1 // checksum off
	tests := []struct {
		name    string
		handler http.HandlerFunc
		call    func(*vault.Client) error
		want    string
	}{
		{"error message echoes keys", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"code":"bad_request","message":"bad key %s, bearer %s, glued x%s\u0007"}}`, leaked, bearer, leaked)
		}, func(c *vault.Client) error { _, err := c.Get(ctx, "key_1"); return err }, "bad key atmx_prd_"},
		{"non-JSON 500 body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			fmt.Fprintf(w, "<html>%s %s</html>", leaked, bearer)
		}, func(c *vault.Client) error { _, err := c.Get(ctx, "key_1"); return err }, "500 internal server error"},
		{"malformed new key", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			fmt.Fprintf(w, `{"key":%q,"key_id":"key_2","environment":"production"}`, bad)
		}, func(c *vault.Client) error {
			_, err := c.Reissue(ctx, "key_1", vault.ReissueRequest{Reason: "x"}, "")
			return err
		}, "malformed key"},
		{"key of another environment", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			fmt.Fprintf(w, `{"key":%q,"key_id":"key_2","environment":"development"}`, leaked)
		}, func(c *vault.Client) error {
			_, err := c.Issue(ctx, vault.IssueRequest{Environment: "development"}, "")
			return err
		}, "not of environment development"},
		{"too few results", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"results":[]}`)
		}, func(c *vault.Client) error { _, err := c.Verify(ctx, []string{fp}); return err }, "0 results for 1"},
		{"result for another fingerprint", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"results":[{"fingerprint":"%s","status":"active"}]}`, fingerprint(t))
		}, func(c *vault.Client) error { _, err := c.Verify(ctx, []string{fp}); return err }, "another fingerprint"},
		{"unknown status", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"results":[{"fingerprint":"%s","status":"%s"}]}`, fp, leaked)
		}, func(c *vault.Client) error { _, err := c.Verify(ctx, []string{fp}); return err }, "unknown status"},
		{"malformed 200", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"results":"%s"}`, leaked)
		}, func(c *vault.Client) error { _, err := c.Verify(ctx, []string{fp}); return err }, "malformed 200 response"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		}, func(c *vault.Client) error { _, err := c.Get(ctx, "key_1"); return err }, "unexpected redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(tt.handler)
			defer hs.Close()
			c, err := vault.New(vault.Config{BaseURL: hs.URL, APIKey: bearer, MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			for _, k := range []string{bearer, leaked, string(bad)} {
				if strings.Contains(err.Error(), k) || strings.Contains(err.Error(), k[9:41]) {
					t.Errorf("the error carries a key: %v", err)
				}
			}
			if strings.ContainsAny(err.Error(), "\a\n") {
				t.Errorf("control characters in %q", err)
			}
		})
	}
}

func TestRedactKeys(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	r := patterns.Redact([]byte(k))
	tests := []struct{ in, want string }{
		{"no key here", "no key here"},
		{"key " + k + ".", "key " + r + "."},
		{"glued x" + k + "y", "glued x" + r},
		{"twice " + k + " " + k, "twice " + r + " " + r},
		{"short atmx_prd_ab", "short atmx_prd_ab"},
		{"invalid atmx_prd_" + strings.Repeat("Z", 38), "invalid atmx_prd_ZZZZ…"},
	}
	for _, tt := range tests {
		if got := vault.RedactKeys(tt.in); got != tt.want {
			t.Errorf("RedactKeys(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCleanMessage(f *testing.F) {
	k, _ := patterns.Generate(patterns.Production)
	f.Add("bad key "+k, "bearer")
	f.Add("x"+k+"\x00\n", k)
	f.Add(strings.Repeat("é", 300), "")
	f.Add("atmx_atmx_prd_"+k[9:], "atmx")
	f.Fuzz(func(t *testing.T, msg, bearer string) {
		out := vault.CleanMessage(msg, bearer)
		if len(bearer) >= 8 && strings.Contains(out, bearer) {
			t.Fatalf("the bearer key survives: %q", out)
		}
		if i := strings.Index(out, patterns.Prefix); i >= 0 {
			for j := i; j >= 0; {
				rest := out[j+len(patterns.Prefix):]
				n := 0
				for n < len(rest) && (patterns.IsBase62(rest[n]) || rest[n] == '_') {
					n++
				}
				if len(patterns.Prefix)+n > patterns.RedactedLen {
					t.Fatalf("a key-shaped run survives: %q", out)
				}
				k := strings.Index(rest, patterns.Prefix)
				if k < 0 {
					break
				}
				j += len(patterns.Prefix) + k
			}
		}
		if strings.ContainsFunc(out, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("control characters survive: %q", out)
		}
		if n := len([]rune(out)); n > 201 {
			t.Fatalf("%d runes, want at most 201", n)
		}
	})
}
