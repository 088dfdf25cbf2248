package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

// TestReissueCannotGainRoles is the escalation of issue 9: a key holding
// keys:issue and keys:revoke reissued the admin key and received a key
// with every role, while the admin key stopped working.
func TestReissueCannotGainRoles(t *testing.T) {
	v := startVault(t, "", Options{})
	low := v.issueRoles(t, vault.RoleIssue, vault.RoleRevoke)
	lc := v.client(t, low)
	adminID := v.srv.Admin().KeyID

	_, err := lc.Reissue(ctx, adminID, vault.ReissueRequest{Reason: "leaked"}, "esc")
	var ae *vault.APIError
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Code != vault.CodeForbidden || ae.Role != vault.RoleVerify {
		t.Fatalf("reissue of the admin key by an issue+revoke key = %v, want 403 forbidden naming keys:verify", err)
	}
	if !strings.Contains(ae.Message, "roles") {
		t.Errorf("message %q does not say why", ae.Message)
	}
	if n := countReplacements(t, v.srv, adminID); n != 0 {
		t.Errorf("a refused reissue made %d keys", n)
	}
	// The admin key still works and still holds every role.
	if _, err := v.client(t, v.Admin).Get(ctx, adminID); err != nil {
		t.Fatalf("the admin key stopped working: %v", err)
	}

	// A key with one role the caller lacks: refused too.
	verifier := v.issue(t, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleVerify}})
	if _, err := lc.Reissue(ctx, verifier.KeyID, vault.ReissueRequest{Reason: "leaked"}, "esc2"); !errors.Is(err, vault.ErrForbidden) {
		t.Errorf("reissue of a keys:verify key = %v, want forbidden", err)
	}
	// Roles the caller holds, or none: allowed, and the replacement has
	// exactly the old key's roles.
	same := v.issue(t, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleIssue}})
	nk, err := lc.Reissue(ctx, same.KeyID, vault.ReissueRequest{Reason: "leaked"}, "ok1")
	if err != nil {
		t.Fatalf("reissue of a key with a subset of the roles: %v", err)
	}
	if _, err := v.client(t, nk.Key.Reveal()).Issue(ctx, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleRevoke}}, ""); !errors.Is(err, vault.ErrForbidden) {
		t.Errorf("the replacement grants keys:revoke: %v; want forbidden (it holds keys:issue only)", err)
	}
	plain := v.issue(t, vault.IssueRequest{Environment: "production"})
	if _, err := lc.Reissue(ctx, plain.KeyID, vault.ReissueRequest{Reason: "leaked"}, "ok2"); err != nil {
		t.Errorf("reissue of a role-less key: %v", err)
	}
	// A key may reissue itself.
	if _, err := lc.Reissue(ctx, strings.TrimSpace(keyIDOf(t, v, low)), vault.ReissueRequest{Reason: "rotation", RevokeOld: "1h"}, "self"); err != nil {
		t.Errorf("self-reissue: %v", err)
	}

	// Revoking stays allowed whatever the roles: it only takes access away.
	rc := v.client(t, v.issueRoles(t, vault.RoleRevoke))
	if _, err := rc.Revoke(ctx, verifier.KeyID, vault.RevokeRequest{Reason: "leaked"}, "rv"); err != nil {
		t.Errorf("revoke of a key with more roles: %v", err)
	}
}

// keyIDOf asks the Vault for a key's id by its fingerprint.
func keyIDOf(t *testing.T, v *testVault, key string) string {
	t.Helper()
	fp := patterns.Fingerprint([]byte(key))
	res, err := v.client(t, v.Admin).Verify(ctx, []string{fp})
	if err != nil {
		t.Fatal(err)
	}
	return res[fp].KeyID
}

// TestReplayIsPerCaller: a lower key that sends the Idempotency-Key and body
// of the admin's reissue of a privileged key gets no replay of that answer
// (it would carry the new privileged key), but the role check.
func TestReplayIsPerCaller(t *testing.T) {
	v := startVault(t, "", Options{})
	ac := v.client(t, v.Admin)
	priv := v.issue(t, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleVerify, vault.RoleIssue}})
	req := vault.ReissueRequest{Reason: "leaked", RevokeOld: "1h"}
	first, err := ac.Reissue(ctx, priv.KeyID, req, "shared")
	if err != nil {
		t.Fatal(err)
	}
	lc := v.client(t, v.issueRoles(t, vault.RoleIssue, vault.RoleRevoke))
	got, err := lc.Reissue(ctx, priv.KeyID, req, "shared")
	if !errors.Is(err, vault.ErrForbidden) {
		t.Fatalf("replay by another caller = %v (same key: %v), want forbidden", err, got.Key.Reveal() == first.Key.Reveal())
	}
	if n := countReplacements(t, v.srv, priv.KeyID); n != 1 {
		t.Errorf("%d replacements, want the admin's one", n)
	}
}

// TestIssueCannotOutliveCaller: a key that expires cannot make a key that
// lives longer, by issue or by reissue.
func TestIssueCannotOutliveCaller(t *testing.T) {
	v := startVault(t, "", Options{})
	ends := v.clock.Now().Add(time.Hour)
	temp := v.issue(t, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleIssue, vault.RoleRevoke, vault.RoleVerify},
		ExpiresAt: ends.Format(time.RFC3339)})
	tc := v.client(t, temp.Key.Reveal())
	made, err := tc.Issue(ctx, vault.IssueRequest{Environment: "dev", Roles: []string{vault.RoleVerify}}, "")
	if err != nil {
		t.Fatal(err)
	}
	plain := v.issue(t, vault.IssueRequest{Environment: "dev"})
	re, err := tc.Reissue(ctx, plain.KeyID, vault.ReissueRequest{Reason: "x"}, "r")
	if err != nil {
		t.Fatal(err)
	}
	v.clock.Add(time.Hour)
	res, err := v.client(t, v.Admin).Verify(ctx, []string{made.Key.Fingerprint(), re.Key.Fingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []vault.IssuedKey{made, re} {
		if st := res[k.Key.Fingerprint()].Status; st != vault.StatusExpired {
			t.Errorf("%s made by a key that expired is %s, want expired with it", k.KeyID, st)
		}
	}
}

// TestLogNeverHoldsAKey: whatever a caller puts in reason, evidence or any
// other field, the Vault's own log shows at most the redacted form.
func TestLogNeverHoldsAKey(t *testing.T) {
	var (
		mu  sync.Mutex
		log strings.Builder
	)
	v := startVault(t, "", Options{Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&log, format+"\n", args...)
	}})
	c := v.client(t, v.Admin)
	var keys []string
	for range 4 {
		k, err := patterns.Generate(patterns.Production)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	a := v.issue(t, vault.IssueRequest{Environment: "dev"})
	b := v.issue(t, vault.IssueRequest{Environment: "dev"})
	if _, err := c.Revoke(ctx, a.KeyID, vault.RevokeRequest{Reason: "leaked " + keys[0], Evidence: "https://x.example/?k=" + keys[1]}, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reissue(ctx, b.KeyID, vault.ReissueRequest{Reason: keys[2] + "glued" + keys[3], RevokeOld: "1h"}, "i"); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"reason": keys[0]})
	v.raw(t, "POST", "/v1/keys/"+b.KeyID+"/revoke", v.Admin, "", string(body)) // refused: no Idempotency-Key
	mu.Lock()
	got := log.String()
	mu.Unlock()
	if !strings.Contains(got, "revoked "+a.KeyID) {
		t.Fatalf("the log did not record the revocation:\n%s", got)
	}
	for _, k := range append(keys, a.Key.Reveal(), b.Key.Reveal(), v.Admin) {
		if strings.Contains(got, k) || strings.Contains(got, k[9:41]) {
			t.Errorf("the log holds the key %s:\n%s", patterns.Redact([]byte(k)), got)
		}
	}
	if !strings.Contains(got, patterns.Redact([]byte(keys[0]))) {
		t.Errorf("the log lost the redacted form of the reason's key:\n%s", got)
	}
}
