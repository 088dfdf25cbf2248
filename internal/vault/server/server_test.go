package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

var ctx = context.Background()

func TestFirstStartMakesAdminKey(t *testing.T) {
	dir := t.TempDir()
	srv, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	a := srv.Admin()
	if !a.Created || a.Path != filepath.Join(dir, AdminKeyFile) {
		t.Fatalf("admin = %+v", a)
	}
	for _, name := range []string{AdminKeyFile, SecretFile, DBFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	b, _ := os.ReadFile(a.Path)
	key := strings.TrimSpace(string(b))
	if !patterns.Valid([]byte(key)) {
		t.Fatal("admin.key does not hold a key")
	}
	if a.Redacted != patterns.Redact([]byte(key)) || strings.Contains(fmt.Sprintf("%+v", a), key) {
		t.Errorf("admin info is not the redacted form: %+v", a)
	}
	if a.Fingerprint != patterns.Fingerprint([]byte(key)) {
		t.Error("admin fingerprint does not match the key")
	}
	srv.Close()

	// A restart keeps the key and makes no new one.
	srv, err = Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if b2 := srv.Admin(); b2.Created || b2.KeyID != a.KeyID || b2.Redacted != a.Redacted {
		t.Errorf("after restart admin = %+v, want the same key, not created", b2)
	}
	if b2, _ := os.ReadFile(a.Path); string(b2) != string(b) {
		t.Error("restart rewrote admin.key")
	}
}

func TestOpenTwiceIsRefused(t *testing.T) {
	v := startVault(t, "", Options{})
	_, err := Open(v.dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open = %v, want in use", err)
	}
}

func TestIssueVerifyGet(t *testing.T) {
	v := startVault(t, "", Options{})
	owner := &finding.Owner{Org: "acme", Team: "payments", Contact: "payments@acme.example"}
	k := v.issue(t, vault.IssueRequest{Environment: "prd", Products: []string{"manage", "submit", "manage"}, Owner: owner})
	if !patterns.Valid([]byte(k.Key.Reveal())) || patterns.EnvironmentOf([]byte(k.Key.Reveal())) != patterns.Production {
		t.Fatalf("issued key %v is not a production key", k.Key)
	}
	if k.Environment != "production" || strings.Join(k.Products, ",") != "manage,submit" || *k.Owner != *owner {
		t.Errorf("issued %+v", k)
	}
	if !strings.HasPrefix(k.KeyID, "key_") || len(k.KeyID) != 4+26 {
		t.Errorf("key id %q is not key_ and a ULID", k.KeyID)
	}

	c := v.client(t, v.Admin)
	unknown := randomFingerprint(t)
	fp := k.Key.Fingerprint()
	res, err := c.Verify(ctx, []string{unknown, fp})
	if err != nil {
		t.Fatal(err)
	}
	got := res[fp]
	want := vault.KeyInfo{Fingerprint: fp, Status: vault.StatusActive, KeyID: k.KeyID, Environment: "production",
		Products: []string{"manage", "submit"}, Owner: owner, CreatedAt: v.clock.Now().Format(time.RFC3339)}
	if !equalInfo(got, want) {
		t.Errorf("verify = %+v\nwant %+v", got, want)
	}
	if !equalInfo(res[unknown], vault.KeyInfo{Fingerprint: unknown, Status: vault.StatusUnknown}) {
		t.Errorf("unknown = %+v", res[unknown])
	}

	info, err := c.Get(ctx, k.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	want.Fingerprint = ""
	if !equalInfo(info, want) {
		t.Errorf("get = %+v\nwant %+v", info, want)
	}

	// The new key authenticates (it has no roles) and that is recorded.
	v.clock.Add(time.Minute)
	_, err = v.client(t, k.Key.Reveal()).Verify(ctx, []string{unknown})
	if !errors.Is(err, vault.ErrForbidden) {
		t.Fatalf("role-less key verify = %v, want forbidden", err)
	}
	info, _ = c.Get(ctx, k.KeyID)
	if info.LastUsedAt != v.clock.Now().Format(time.RFC3339) {
		t.Errorf("last_used_at = %q, want %q", info.LastUsedAt, v.clock.Now().Format(time.RFC3339))
	}
}

func equalInfo(a, b vault.KeyInfo) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestRevoke(t *testing.T) {
	v := startVault(t, "", Options{})
	k := v.issue(t, vault.IssueRequest{Environment: "staging", Roles: []string{vault.RoleVerify}})
	c := v.client(t, v.Admin)
	before := v.clock.Now()
	r, err := c.Revoke(ctx, k.KeyID, vault.RevokeRequest{Reason: "leaked", Evidence: "https://example.test/commit/1"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r != (vault.RevokeResponse{KeyID: k.KeyID, Status: vault.StatusRevoked, RevokedAt: before.Format(time.RFC3339)}) {
		t.Errorf("revoke = %+v", r)
	}
	v.clock.Add(time.Hour)
	r, err = c.Revoke(ctx, k.KeyID, vault.RevokeRequest{Reason: "leaked"}, "r2")
	if err != nil || !r.AlreadyRevoked || r.RevokedAt != before.Format(time.RFC3339) {
		t.Errorf("second revoke = %+v, %v; want already revoked at the first time", r, err)
	}
	res, err := c.Verify(ctx, []string{k.Key.Fingerprint()})
	if err != nil || res[k.Key.Fingerprint()].Status != vault.StatusRevoked {
		t.Errorf("verify after revoke = %+v, %v", res, err)
	}
	// A revoked key no longer authenticates.
	if _, err := v.client(t, k.Key.Reveal()).Verify(ctx, []string{k.Key.Fingerprint()}); !errors.Is(err, vault.ErrUnauthenticated) {
		t.Errorf("revoked bearer = %v, want unauthenticated", err)
	}
	if _, err := c.Revoke(ctx, "key_00000000000000000000000000", vault.RevokeRequest{Reason: "x"}, "r3"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("unknown id = %v, want not found", err)
	}
}

func TestReissue(t *testing.T) {
	v := startVault(t, "", Options{})
	owner := &finding.Owner{Org: "acme"}
	c := v.client(t, v.Admin)

	t.Run("immediately", func(t *testing.T) {
		old := v.issue(t, vault.IssueRequest{Environment: "production", Products: []string{"submit"}, Owner: owner})
		nk, err := c.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "leaked", RevokeOld: "immediately"}, "i1")
		if err != nil {
			t.Fatal(err)
		}
		if nk.Replaces != old.KeyID || nk.Environment != "production" || strings.Join(nk.Products, ",") != "submit" ||
			*nk.Owner != *owner || nk.OldKeyExpiresAt != v.clock.Now().Format(time.RFC3339) {
			t.Errorf("reissue = %+v", nk)
		}
		if nk.Key.Reveal() == old.Key.Reveal() || patterns.EnvironmentOf([]byte(nk.Key.Reveal())) != patterns.Production {
			t.Error("the new key is not a fresh production key")
		}
		res, _ := c.Verify(ctx, []string{old.Key.Fingerprint(), nk.Key.Fingerprint()})
		if res[old.Key.Fingerprint()].Status != vault.StatusRevoked || res[nk.Key.Fingerprint()].Status != vault.StatusActive {
			t.Errorf("after reissue: %+v", res)
		}
		// Reissuing a revoked key is allowed; its end stays as it was.
		nk2, err := c.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "again"}, "i2")
		if err != nil || nk2.OldKeyExpiresAt != nk.OldKeyExpiresAt {
			t.Errorf("reissue of a revoked key = %+v, %v", nk2, err)
		}
	})

	t.Run("grace", func(t *testing.T) {
		old := v.issue(t, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleVerify}})
		nk, err := c.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "rotation", RevokeOld: "15m"}, "g1")
		if err != nil {
			t.Fatal(err)
		}
		if want := v.clock.Now().Add(15 * time.Minute).Format(time.RFC3339); nk.OldKeyExpiresAt != want {
			t.Errorf("old_key_expires_at = %s, want %s", nk.OldKeyExpiresAt, want)
		}
		oldc := v.client(t, old.Key.Reveal())
		v.clock.Add(14 * time.Minute)
		res, err := oldc.Verify(ctx, []string{old.Key.Fingerprint()})
		if err != nil || res[old.Key.Fingerprint()].Status != vault.StatusActive {
			t.Fatalf("in grace: %+v, %v; want the old key still active and working", res, err)
		}
		v.clock.Add(time.Minute)
		info, err := c.Get(ctx, old.KeyID)
		if err != nil || info.Status != vault.StatusRevoked {
			t.Errorf("after grace: %+v, %v; want revoked", info, err)
		}
		if _, err := v.client(t, old.Key.Reveal()).Verify(ctx, []string{old.Key.Fingerprint()}); !errors.Is(err, vault.ErrUnauthenticated) {
			t.Errorf("old key after grace = %v, want unauthenticated", err)
		}
	})

	t.Run("bad grace", func(t *testing.T) {
		old := v.issue(t, vault.IssueRequest{Environment: "dev"})
		for _, g := range []vault.RevokeOld{"25h", "-5m", "soon", "0s"} {
			if _, err := c.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "x", RevokeOld: g}, "b-"+string(g)); !errors.Is(err, vault.ErrBadRequest) {
				t.Errorf("revoke_old %q = %v, want bad request", g, err)
			}
		}
		if n := countReplacements(t, v.srv, old.KeyID); n != 0 {
			t.Errorf("a refused reissue made %d keys", n)
		}
	})
}

func TestIdempotency(t *testing.T) {
	v := startVault(t, "", Options{})
	c := v.client(t, v.Admin)
	old := v.issue(t, vault.IssueRequest{Environment: "production"})
	req := vault.ReissueRequest{Reason: "leaked", RevokeOld: "1h"}

	a, err := c.Reissue(ctx, old.KeyID, req, "same")
	if err != nil {
		t.Fatal(err)
	}
	v.clock.Add(23 * time.Hour)
	b, err := c.Reissue(ctx, old.KeyID, req, "same")
	if err != nil {
		t.Fatal(err)
	}
	if a.Key.Reveal() != b.Key.Reveal() || a.KeyID != b.KeyID || a.OldKeyExpiresAt != b.OldKeyExpiresAt {
		t.Errorf("replay differs: %+v vs %+v", a, b)
	}
	if n := countReplacements(t, v.srv, old.KeyID); n != 1 {
		t.Errorf("%d replacement keys, want 1", n)
	}
	// Same key, other body: conflict, and nothing made.
	_, err = c.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "leaked", RevokeOld: "2h"}, "same")
	if !errors.Is(err, vault.ErrConflict) {
		t.Errorf("other body = %v, want conflict", err)
	}
	// Same key on another path: conflict too.
	if _, err := c.Revoke(ctx, old.KeyID, vault.RevokeRequest{Reason: "leaked"}, "same"); !errors.Is(err, vault.ErrConflict) {
		t.Errorf("other endpoint = %v, want conflict", err)
	}
	// Another caller's same Idempotency-Key is its own.
	other := v.issue(t, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleIssue, vault.RoleRevoke}})
	oc := v.client(t, other.Key.Reveal())
	if _, err := oc.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "x"}, "same"); err != nil {
		t.Errorf("another caller's key: %v", err)
	}
	// After 24 hours the record is gone: the same key makes a new key.
	v.clock.Add(2 * time.Hour)
	d, err := c.Reissue(ctx, old.KeyID, req, "same")
	if err != nil || d.KeyID == a.KeyID {
		t.Errorf("after 24h: %+v, %v; want a new key", d, err)
	}
	// Revoke replays its first answer.
	k := v.issue(t, vault.IssueRequest{Environment: "dev"})
	r1, _ := c.Revoke(ctx, k.KeyID, vault.RevokeRequest{Reason: "x"}, "rv")
	r2, err := c.Revoke(ctx, k.KeyID, vault.RevokeRequest{Reason: "x"}, "rv")
	if err != nil || r1 != r2 || r2.AlreadyRevoked {
		t.Errorf("revoke replay = %+v, %v; want %+v", r2, err, r1)
	}
}

func TestExpiredKey(t *testing.T) {
	v := startVault(t, "", Options{})
	k := v.issue(t, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleVerify},
		ExpiresAt: v.clock.Now().Add(time.Hour).Format(time.RFC3339)})
	c := v.client(t, v.Admin)
	v.clock.Add(time.Hour)
	res, err := c.Verify(ctx, []string{k.Key.Fingerprint()})
	if err != nil || res[k.Key.Fingerprint()].Status != vault.StatusExpired {
		t.Errorf("verify = %+v, %v; want expired", res, err)
	}
	if _, err := v.client(t, k.Key.Reveal()).Get(ctx, k.KeyID); !errors.Is(err, vault.ErrUnauthenticated) {
		t.Errorf("expired bearer = %v, want unauthenticated", err)
	}
}

// TestErrors sends what the client would never send.
func TestErrors(t *testing.T) {
	v := startVault(t, "", Options{})
	verifier := v.issue(t, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleVerify}}).Key.Reveal()
	k := v.issue(t, vault.IssueRequest{Environment: "dev"})
	fp := k.Key.Fingerprint()
	many := make([]string, 101)
	for i := range many {
		many[i] = fp
	}
	manyBody, _ := json.Marshal(vault.VerifyRequest{Fingerprints: many})
	unknownKey, _ := patterns.Generate(patterns.Production)
	admin := v.Admin
	tests := []struct {
		name               string
		method, path       string
		bearer, idem, body string
		status             int
		code, role         string
	}{
		{"no bearer", "POST", "/v1/keys/verify", "", "", `{"fingerprints":["` + fp + `"]}`, 401, "unauthenticated", ""},
		{"not a key", "POST", "/v1/keys/verify", "hunter2", "", `{}`, 401, "unauthenticated", ""},
		{"unknown key", "POST", "/v1/keys/verify", unknownKey, "", `{}`, 401, "unauthenticated", ""},
		{"verify without role", "POST", "/v1/keys/verify", k.Key.Reveal(), "", `{}`, 403, "forbidden", vault.RoleVerify},
		{"revoke without role", "POST", "/v1/keys/" + k.KeyID + "/revoke", verifier, "x", `{"reason":"x"}`, 403, "forbidden", vault.RoleRevoke},
		{"reissue without role", "POST", "/v1/keys/" + k.KeyID + "/reissue", verifier, "x", `{"reason":"x"}`, 403, "forbidden", vault.RoleIssue},
		{"issue without role", "POST", "/v1/keys", verifier, "", `{"environment":"dev"}`, 403, "forbidden", vault.RoleIssue},
		{"grant a role not held", "POST", "/v1/keys", v.issueRoles(t, vault.RoleIssue), "", `{"environment":"dev","roles":["keys:revoke"]}`, 403, "forbidden", vault.RoleRevoke},
		{"malformed json", "POST", "/v1/keys/verify", admin, "", `{"fingerprints":`, 400, "bad_request", ""},
		{"wrong type", "POST", "/v1/keys/verify", admin, "", `{"fingerprints":"x"}`, 400, "bad_request", ""},
		{"two values", "POST", "/v1/keys/verify", admin, "", `{"fingerprints":["` + fp + `"]}{}`, 400, "bad_request", ""},
		{"empty body", "POST", "/v1/keys/verify", admin, "", ``, 400, "bad_request", ""},
		{"no fingerprints", "POST", "/v1/keys/verify", admin, "", `{"fingerprints":[]}`, 400, "bad_request", ""},
		{"101 fingerprints", "POST", "/v1/keys/verify", admin, "", string(manyBody), 400, "bad_request", ""},
		{"upper-case fingerprint", "POST", "/v1/keys/verify", admin, "", `{"fingerprints":["` + strings.ToUpper(fp) + `"]}`, 400, "bad_request", ""},
		{"a key instead of a fingerprint", "POST", "/v1/keys/verify", admin, "", `{"fingerprints":["` + unknownKey + `"]}`, 400, "bad_request", ""},
		{"revoke without idempotency key", "POST", "/v1/keys/" + k.KeyID + "/revoke", admin, "", `{"reason":"x"}`, 400, "bad_request", ""},
		{"reissue without idempotency key", "POST", "/v1/keys/" + k.KeyID + "/reissue", admin, "", `{"reason":"x"}`, 400, "bad_request", ""},
		{"revoke without reason", "POST", "/v1/keys/" + k.KeyID + "/revoke", admin, "x", `{}`, 400, "bad_request", ""},
		{"idempotency key too long", "POST", "/v1/keys/" + k.KeyID + "/revoke", admin, strings.Repeat("x", 256), `{"reason":"x"}`, 400, "bad_request", ""},
		{"issue unknown environment", "POST", "/v1/keys", admin, "", `{"environment":"qa"}`, 400, "bad_request", ""},
		{"issue unknown product", "POST", "/v1/keys", admin, "", `{"environment":"dev","products":["mine"]}`, 400, "bad_request", ""},
		{"issue bad expiry", "POST", "/v1/keys", admin, "", `{"environment":"dev","expires_at":"tomorrow"}`, 400, "bad_request", ""},
		{"get unknown id", "GET", "/v1/keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV", admin, "", ``, 404, "not_found", ""},
		{"get malformed id", "GET", "/v1/keys/..%2f", admin, "", ``, 404, "not_found", ""},
		{"reissue unknown id", "POST", "/v1/keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV/reissue", admin, "x", `{"reason":"x"}`, 404, "not_found", ""},
		{"unknown path", "GET", "/v2/things", admin, "", ``, 404, "not_found", ""},
		{"wrong method", "GET", "/v1/keys/verify", admin, "", ``, 405, "bad_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := v.raw(t, tt.method, tt.path, tt.bearer, tt.idem, tt.body)
			var eb vault.ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatalf("body %q is not an error body: %v", body, err)
			}
			if status != tt.status || eb.Error.Code != tt.code || eb.Error.Role != tt.role {
				t.Errorf("got %d %+v, want %d %s role %q", status, eb.Error, tt.status, tt.code, tt.role)
			}
			if eb.Error.Message == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("error without message or JSON type: %q %q", eb.Error.Message, h.Get("Content-Type"))
			}
			if strings.Contains(string(body), unknownKey) || strings.Contains(string(body), v.Admin) {
				t.Error("an error body echoes a key")
			}
		})
	}
}

// issueRoles issues a development key with roles and returns it.
func (v *testVault) issueRoles(t *testing.T, roles ...string) string {
	return v.issue(t, vault.IssueRequest{Environment: "dev", Roles: roles}).Key.Reveal()
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	v := startVault(t, dir, Options{})
	c := v.client(t, v.Admin)
	a := v.issue(t, vault.IssueRequest{Environment: "production", Products: []string{"manage"}})
	b := v.issue(t, vault.IssueRequest{Environment: "staging"})
	if _, err := c.Revoke(ctx, b.KeyID, vault.RevokeRequest{Reason: "leaked"}, "rv"); err != nil {
		t.Fatal(err)
	}
	n1, err := c.Reissue(ctx, a.KeyID, vault.ReissueRequest{Reason: "leaked", RevokeOld: "1h"}, "ri")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := c.Verify(ctx, []string{a.Key.Fingerprint(), b.Key.Fingerprint(), n1.Key.Fingerprint()})
	v.stop()

	v2 := startVault(t, dir, Options{})
	if v2.Admin != v.Admin {
		t.Fatal("admin key changed across a restart")
	}
	c2 := v2.client(t, v2.Admin)
	after, err := c2.Verify(ctx, []string{a.Key.Fingerprint(), b.Key.Fingerprint(), n1.Key.Fingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	for fp, w := range before {
		if !equalInfo(after[fp], w) {
			t.Errorf("after restart %+v, before %+v", after[fp], w)
		}
	}
	if st := after[b.Key.Fingerprint()].Status; st != vault.StatusRevoked {
		t.Errorf("revoked key reads %s after restart", st)
	}
	// The sealed reissue answer replays across the restart.
	n2, err := c2.Reissue(ctx, a.KeyID, vault.ReissueRequest{Reason: "leaked", RevokeOld: "1h"}, "ri")
	if err != nil || n2.Key.Reveal() != n1.Key.Reveal() {
		t.Errorf("replay after restart: %v, same key %v", err, n2.Key.Reveal() == n1.Key.Reveal())
	}
}

func TestDatabaseHoldsNoKey(t *testing.T) {
	dir := t.TempDir()
	v := startVault(t, dir, Options{})
	c := v.client(t, v.Admin)
	var keys []string
	for _, env := range []string{"dev", "stg", "prd"} {
		k := v.issue(t, vault.IssueRequest{Environment: env})
		keys = append(keys, k.Key.Reveal())
		n, err := c.Reissue(ctx, k.KeyID, vault.ReissueRequest{Reason: "x"}, "idem-"+env)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, n.Key.Reveal())
		// Issue with an Idempotency-Key stores its answer too.
		k2, err := c.Issue(ctx, vault.IssueRequest{Environment: env}, "issue-"+env)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k2.Key.Reveal())
	}
	keys = append(keys, v.Admin)
	v.stop()
	db, err := os.ReadFile(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		// The body alone is 32 random characters: finding it would mean
		// the key is stored in some form.
		if bytes.Contains(db, []byte(k)) || bytes.Contains(db, []byte(k[9:41])) {
			t.Errorf("vault.db holds the key %s", patterns.Redact([]byte(k)))
		}
		if !bytes.Contains(db, []byte(patterns.Fingerprint([]byte(k)))) {
			t.Errorf("vault.db lacks the fingerprint of %s", patterns.Redact([]byte(k)))
		}
	}
}

func TestFaults(t *testing.T) {
	t.Run("429", func(t *testing.T) {
		v := startVault(t, "", Options{Faults: Faults{RateLimit: 1, RetryAfter: 1500 * time.Millisecond}})
		status, h, body := v.raw(t, "GET", "/v1/keys/key_x", v.Admin, "", "")
		if status != 429 || h.Get("Retry-After") != "2" || !bytes.Contains(body, []byte(`"rate_limited"`)) {
			t.Errorf("got %d Retry-After %q %s", status, h.Get("Retry-After"), body)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		v := startVault(t, "", Options{Faults: Faults{ServerError: 1}})
		status, _, body := v.raw(t, "GET", "/v1/keys/key_x", v.Admin, "", "")
		if status != 503 || !bytes.Contains(body, []byte(`"unavailable"`)) {
			t.Errorf("got %d %s", status, body)
		}
	})
	t.Run("drop", func(t *testing.T) {
		v := startVault(t, "", Options{Faults: Faults{Drop: 1}})
		req, _ := http.NewRequest("POST", v.URL+"/v1/keys/verify", strings.NewReader(`{}`))
		resp, err := v.http.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got %d, want a dropped connection", resp.StatusCode)
		}
	})
	t.Run("latency", func(t *testing.T) {
		v := startVault(t, "", Options{Faults: Faults{Latency: 2 * time.Second}})
		c := v.client(t, v.Admin, func(c *vault.Config) { c.Timeout = 50 * time.Millisecond; c.MaxRetries = -1 })
		_, err := c.Get(ctx, v.srv.Admin().KeyID)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("slow server = %v, want the attempt's deadline", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, f := range []Faults{{Drop: 1.5}, {RateLimit: -0.1}, {Drop: 0.6, ServerError: 0.6}, {Latency: -1}} {
			if _, err := Open(t.TempDir(), Options{Faults: f}); err == nil {
				t.Errorf("Open with %+v succeeded", f)
			}
		}
	})
	t.Run("seeded", func(t *testing.T) {
		seq := func(seed uint64) string {
			v := startVault(t, "", Options{Faults: Faults{RateLimit: 0.3, ServerError: 0.3, Seed: seed}})
			var b strings.Builder
			for range 40 {
				status, _, _ := v.raw(t, "GET", "/v1/keys/"+v.srv.Admin().KeyID, v.Admin, "", "")
				fmt.Fprintf(&b, "%d ", status)
			}
			return b.String()
		}
		a, b, c := seq(7), seq(7), seq(8)
		if a != b {
			t.Errorf("same seed, different faults:\n%s\n%s", a, b)
		}
		if a == c {
			t.Errorf("different seeds, same faults: %s", a)
		}
		if !strings.Contains(a, "200") || !strings.Contains(a, "429") || !strings.Contains(a, "503") {
			t.Errorf("sequence %s lacks a kind", a)
		}
	})
	t.Run("lose reissue response", func(t *testing.T) {
		v := startVault(t, "", Options{Faults: Faults{LoseReissueResponse: true}})
		old := v.issue(t, vault.IssueRequest{Environment: "production"})
		// The raw client sees the committed reissue's answer lost...
		req, _ := http.NewRequest("POST", v.URL+"/v1/keys/"+old.KeyID+"/reissue", strings.NewReader(`{"reason":"leaked"}`))
		req.Header.Set("Authorization", "Bearer "+v.Admin)
		req.Header.Set("Idempotency-Key", "lost")
		if resp, err := v.http.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("got %d, want the answer lost", resp.StatusCode)
		}
		if n := countReplacements(t, v.srv, old.KeyID); n != 1 {
			t.Fatalf("%d replacements committed, want 1", n)
		}
		// ...and the retry gets the committed key, no second one.
		c := v.client(t, v.Admin)
		nk, err := c.Reissue(ctx, old.KeyID, vault.ReissueRequest{Reason: "leaked"}, "lost")
		if err != nil {
			t.Fatal(err)
		}
		if n := countReplacements(t, v.srv, old.KeyID); n != 1 {
			t.Errorf("%d replacements after the retry, want 1", n)
		}
		res, _ := c.Verify(ctx, []string{nk.Key.Fingerprint()})
		if res[nk.Key.Fingerprint()].KeyID != nk.KeyID || res[nk.Key.Fingerprint()].Status != vault.StatusActive {
			t.Errorf("the replayed key is not the committed one: %+v", res)
		}
	})
}

func TestServeShutsDownOnCancel(t *testing.T) {
	srv, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(cctx, ln) }()
	key, _ := os.ReadFile(srv.Admin().Path)
	c, err := vault.New(vault.Config{BaseURL: "http://" + ln.Addr().String(), APIKey: strings.TrimSpace(string(key))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, srv.Admin().KeyID); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v, want nil after a graceful shutdown", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still listening after shutdown")
	}
}

func TestKeyIDs(t *testing.T) {
	now := time.Now()
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		id, err := newKeyID(now.Add(time.Duration(i) * time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if !validID(id) || len(id) != 30 || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		if id[4:14] < prev {
			t.Fatalf("ids do not sort by time: %s after %s", id, prev)
		}
		prev = id[4:14]
		seen[id] = true
	}
}
