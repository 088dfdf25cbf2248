package rotate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/rotate"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

const day = 24 * time.Hour

func TestNothingDue(t *testing.T) {
	w := newWorld(t)
	a := w.issue("production", "payments", 10*day)
	b := w.issue("staging", "search", 0)
	j := openJournal(t, "")
	r := w.rotator(t, policy(t, "[rotate]\nmax_age = \"90d\"\nwarn_before = \"14d\"\n"), j)
	before := w.active()
	p := run(t, r, true, false)
	for _, id := range []string{a.KeyID, b.KeyID} {
		if it := item(t, p, id); it.State != rotate.StateOK || it.Action != rotate.ActionNone || it.Result != "" {
			t.Fatalf("%s: %+v", id, it)
		}
	}
	if got := item(t, p, a.KeyID).AgeDays; got != 10 {
		t.Fatalf("age %d days, want 10", got)
	}
	if after := w.active(); len(after) != len(before) {
		t.Fatalf("keys changed: %d → %d", len(before), len(after))
	}
	for _, req := range w.GH.Requests() {
		if req.Mutating() {
			t.Fatalf("GitHub mutated: %s %s", req.Method, req.Path)
		}
	}
	if rots, _ := j.Rotations(); len(rots) != 0 {
		t.Fatalf("journal has %d rotations", len(rots))
	}
	var out bytes.Buffer
	if err := p.WriteMarkdown(&out); err != nil || !strings.Contains(out.String(), "Nothing is due") {
		t.Fatalf("markdown: %v %q", err, out.String())
	}
}

func TestWarnBeforeAndEnvironmentOverride(t *testing.T) {
	w := newWorld(t)
	warn := w.issue("production", "payments", 80*day)
	dev := w.issue("development", "payments", 100*day)
	stg := w.issue("staging", "payments", 31*day)
	r := w.rotator(t, policy(t, `
[rotate]
max_age = "90d"
warn_before = "14d"
[rotate.environments.development]
max_age = "180d"
[rotate.environments.staging]
max_age = "30d"
warn_before = "7d"
`), nil)
	p := run(t, r, false, false)
	for id, want := range map[string]string{warn.KeyID: rotate.StateWarn, dev.KeyID: rotate.StateOK, stg.KeyID: rotate.StateDue} {
		if it := item(t, p, id); it.State != want {
			t.Errorf("%s (%s, %d days): %s, want %s", id, it.Environment, it.AgeDays, it.State, want)
		}
	}
	if it := item(t, p, stg.KeyID); it.Action != rotate.ActionReport || it.MaxAge != "30d" {
		t.Fatalf("staging key due without a sink: %+v", it)
	}
}

func TestDueWithSinkRotatesOnceWithGrace(t *testing.T) {
	w := newWorld(t)
	old := w.issue("production", "payments", 100*day)
	j := openJournal(t, "")
	pol := policy(t, fmt.Sprintf(`
[rotate]
max_age = "90d"
[[rotate.keys]]
key_id = %q
deliver = ["github-secret:acme/app:ATOMYX_API_KEY"]
revoke_old = "2h"
`, old.KeyID))
	r := w.rotator(t, pol, j)

	plan := run(t, r, false, false)
	if it := item(t, plan, old.KeyID); it.State != rotate.StateDue || it.Action != rotate.ActionRotate || it.SinkSource != "policy" {
		t.Fatalf("plan: %+v", it)
	}
	if len(w.active()) != 1 {
		t.Fatal("--plan changed the Vault")
	}

	p := run(t, r, true, false)
	it := item(t, p, old.KeyID)
	if it.Result != rotate.ResultDone || it.ReplacementID == "" {
		t.Fatalf("apply: %+v", it)
	}
	// One replacement, delivered and active; the old key works for its
	// grace.
	active := w.active()
	if len(active) != 2 || !active[old.KeyID] || !active[it.ReplacementID] {
		t.Fatalf("active keys %v; want the old key and one replacement", active)
	}
	val, ok := w.GH.SecretValue(appSink)
	if !ok || !patterns.Valid([]byte(val)) || patterns.EnvironmentOf([]byte(val)) != patterns.Production {
		t.Fatal("no production key delivered")
	}
	rot, ok, err := j.GetRotation(old.KeyID)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if rot.Reissued.Fingerprint != patterns.Fingerprint([]byte(val)) || rot.Reissued.KeyID != it.ReplacementID {
		t.Fatal("the delivered secret is not the journaled replacement")
	}
	if rot.VerifiedAt.IsZero() || !rot.RevokedAt.IsZero() || rot.Reissued.Sealed != nil {
		t.Fatalf("journal: %+v", rot)
	}
	if w.status(old.KeyID) != vault.StatusActive {
		t.Fatal("the old key stopped before its grace ended")
	}
	var buf bytes.Buffer
	_ = p.WriteText(&buf)
	_ = p.WriteJSON(&buf)
	_ = p.WriteMarkdown(&buf)
	noKeyIn(t, "the output", buf.String(), val, old.Key.Reveal())
	if strings.Contains(buf.String(), "sha256:") {
		t.Fatal("the output holds a fingerprint")
	}

	// A second run within the grace changes nothing.
	p = run(t, r, true, false)
	if it := item(t, p, old.KeyID); it.Action != rotate.ActionWait || it.Result != rotate.ResultUnchanged {
		t.Fatalf("second run: %+v", it)
	}
	// The replacement is known to deliver to the same sink, from the
	// journal.
	if it := item(t, p, rot.Reissued.KeyID); it.State != rotate.StateOK || it.SinkSource != "journal" || len(it.Sinks) != 1 || it.Sinks[0] != appSink.String() {
		t.Fatalf("replacement: %+v", it)
	}
	if len(w.active()) != 2 {
		t.Fatal("a second run made another key")
	}

	// After the grace the Vault has ended the old key; the next run
	// records it.
	w.clock.Add(3 * time.Hour)
	if w.status(old.KeyID) != vault.StatusRevoked {
		t.Fatal("the old key outlived its grace")
	}
	p = run(t, r, true, false)
	if it := item(t, p, old.KeyID); it.State != rotate.StateRotated || it.Result != rotate.ResultDone {
		t.Fatalf("after the grace: %+v", it)
	}
	rots, err := j.Rotations()
	if err != nil || len(rots) != 1 || rots[0].RevokedAt.IsZero() {
		t.Fatalf("journal: %d rotations, %v, %+v", len(rots), err, rots)
	}
	if active := w.active(); len(active) != 1 || !active[it.ReplacementID] {
		t.Fatalf("active keys %v; want only the replacement", active)
	}
	// And once recorded, the old key leaves the plan.
	p = run(t, r, true, false)
	for _, it := range p.Items {
		if it.KeyID == old.KeyID {
			t.Fatalf("old key still planned: %+v", it)
		}
	}
}

func TestRevokeOldImmediatelyRevokesAfterVerification(t *testing.T) {
	w := newWorld(t)
	old := w.issue("staging", "search", 100*day)
	j := openJournal(t, "")
	r := w.rotator(t, policy(t, `
[[rotate.keys]]
team = "search"
environment = "staging"
deliver = ["github-org-secret:acme:SEARCH_KEY"]
revoke_old = "immediately"
`), j)
	p := run(t, r, true, false)
	it := item(t, p, old.KeyID)
	if it.Result != rotate.ResultDone || w.status(old.KeyID) != vault.StatusRevoked || w.status(it.ReplacementID) != vault.StatusActive {
		t.Fatalf("%+v, old %s", it, w.status(old.KeyID))
	}
	rot, _, _ := j.GetRotation(old.KeyID)
	if rot.RevokedAt.Before(rot.VerifiedAt) || rot.VerifiedAt.IsZero() {
		t.Fatal("revoked before the replacement was verified")
	}
	if v, ok := w.GH.SecretValue(ghapi.SecretTarget{Kind: ghapi.KindOrgSecret, Org: "acme", Name: "SEARCH_KEY"}); !ok || patterns.Fingerprint([]byte(v)) != rot.Reissued.Fingerprint {
		t.Fatal("org secret not delivered")
	}
}

func TestSinksFromTheResponderJournal(t *testing.T) {
	w := newWorld(t)
	k := w.issue("production", "payments", 120*day)
	j := openJournal(t, "")
	// An earlier leak response replaced some key with k and delivered it.
	other, _ := patterns.Generate(patterns.Production)
	fp := patterns.Fingerprint([]byte(other))
	_, err := j.Update(fp, journal.Delivered, func(in *journal.Incident) error {
		in.Action = "rotate"
		in.Sinks = []ghapi.SecretTarget{appSink}
		in.Reissued = &journal.Replacement{KeyID: k.KeyID, Fingerprint: k.Key.Fingerprint(), Redacted: k.Key.String()}
		in.Delivered = map[string]time.Time{appSink.String(): time.Now()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := w.rotator(t, policy(t, "[rotate]\nmax_age = \"90d\"\n"), j)
	p := run(t, r, true, false)
	it := item(t, p, k.KeyID)
	if it.SinkSource != "journal" || it.Result != rotate.ResultDone {
		t.Fatalf("%+v", it)
	}
	if v, ok := w.GH.SecretValue(appSink); !ok || v == k.Key.Reveal() {
		t.Fatal("replacement not delivered to the journal's sink")
	}
}

func TestDueWithoutSinkOneIssueUpdatedAsItAges(t *testing.T) {
	w := newWorld(t)
	k := w.issue("production", "payments", 95*day)
	j := openJournal(t, "")
	r := w.rotator(t, policy(t, "[rotate]\nmax_age = \"90d\"\n"), j)
	p := run(t, r, true, false)
	it := item(t, p, k.KeyID)
	if it.Action != rotate.ActionReport || it.Result != rotate.ResultDone || it.Issue == "" {
		t.Fatalf("%+v", it)
	}
	iss := w.openIssues(k.KeyID)
	if len(iss) != 1 || !strings.Contains(iss[0].Body, "95 days old") || !strings.Contains(iss[0].Body, "payments@acme.example") {
		t.Fatalf("issues: %+v", iss)
	}
	noKeyIn(t, "the issue", iss[0].Title+iss[0].Body, k.Key.Reveal())
	if strings.Contains(iss[0].Body, "sha256:") {
		t.Fatal("the issue holds a fingerprint")
	}
	if len(w.active()) != 1 || w.status(k.KeyID) != vault.StatusActive {
		t.Fatal("a key without a sink was touched")
	}
	// The same day: nothing changes.
	w.GH.ResetRequests()
	p = run(t, r, true, false)
	if it := item(t, p, k.KeyID); it.Result != rotate.ResultUnchanged {
		t.Fatalf("same day: %+v", it)
	}
	for _, req := range w.GH.Requests() {
		if req.Mutating() {
			t.Fatalf("same day: GitHub mutated: %s %s", req.Method, req.Path)
		}
	}
	// Three days later: the one issue says 98 days.
	w.clock.Add(3 * day)
	p = run(t, r, true, false)
	if it := item(t, p, k.KeyID); it.Result != rotate.ResultDone {
		t.Fatalf("later: %+v", it)
	}
	iss = w.openIssues(k.KeyID)
	if len(iss) != 1 || !strings.Contains(iss[0].Body, "98 days old") {
		t.Fatalf("issues after aging: %+v", iss)
	}
	if all := w.GH.Issues(issueRepo); len(all) != 1 {
		t.Fatalf("%d issues in all, want 1", len(all))
	}
	rots, _ := j.Rotations()
	if len(rots) != 1 || rots[0].Issue == nil || rots[0].AgeReported != 98 || rots[0].Reissued != nil {
		t.Fatalf("journal: %+v", rots)
	}
}

func TestUnusedKeysProposedRevokedOnlyOnRequest(t *testing.T) {
	w := newWorld(t)
	idle := w.issue("development", "search", 60*day)
	busy := w.issue("development", "search", 60*day)
	// busy authenticates now: its last use is today.
	bc, err := vault.New(vault.Config{BaseURL: w.VaultURL, APIKey: busy.Key.Reveal(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = bc.Get(context.Background(), busy.KeyID) // 403 (no role), but it counts as a use
	j := openJournal(t, "")
	r := w.rotator(t, policy(t, "[rotate]\nmax_age = \"90d\"\nunused_after = \"30d\"\n"), j)
	p := run(t, r, true, false)
	if it := item(t, p, idle.KeyID); !it.Unused || it.UnusedDays != 60 || it.Action != rotate.ActionRevokeUnused || it.Result != rotate.ResultSkipped {
		t.Fatalf("idle: %+v", it)
	}
	if it := item(t, p, busy.KeyID); it.Unused || it.Action != rotate.ActionNone {
		t.Fatalf("busy: %+v", it)
	}
	if w.status(idle.KeyID) != vault.StatusActive {
		t.Fatal("an unused key was revoked without --revoke-unused")
	}
	p = run(t, r, true, true)
	if it := item(t, p, idle.KeyID); it.Result != rotate.ResultDone {
		t.Fatalf("with --revoke-unused: %+v", it)
	}
	if w.status(idle.KeyID) != vault.StatusRevoked || w.status(busy.KeyID) != vault.StatusActive {
		t.Fatal("--revoke-unused revoked the wrong keys")
	}
}

// TestRacingApplies runs rotate --apply twice at once, sharing a journal
// (two goroutines of one process) and with a journal each (two machines):
// one replacement per key, one open issue per sinkless key.
func TestRacingApplies(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared-journal=%v", shared), func(t *testing.T) {
			w := newWorld(t)
			withSink := w.issue("production", "payments", 100*day)
			without := w.issue("production", "search", 100*day)
			pol := policy(t, fmt.Sprintf("[[rotate.keys]]\nkey_id = %q\ndeliver = [\"github-secret:acme/app:ATOMYX_API_KEY\"]\n", withSink.KeyID))
			j1 := openJournal(t, "")
			j2 := j1
			if !shared {
				j2 = openJournal(t, "")
			}
			var wg sync.WaitGroup
			plans := make([]*rotate.Plan, 2)
			errs := make([]error, 2)
			for i, j := range []*journal.Journal{j1, j2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := w.rotator(t, pol, j)
					p, err := r.Plan(context.Background(), false)
					if err == nil {
						err = r.Apply(context.Background(), p, false)
					}
					plans[i], errs[i] = p, err
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			active := w.active()
			if len(active) != 3 {
				t.Fatalf("%d active keys, want 3 (two old, one replacement)", len(active))
			}
			repl := item(t, plans[0], withSink.KeyID).ReplacementID
			if repl == "" || repl != item(t, plans[1], withSink.KeyID).ReplacementID || !active[repl] {
				t.Fatal("the two runs disagree on the replacement")
			}
			val, _ := w.GH.SecretValue(appSink)
			info, err := w.vault().Verify(context.Background(), []string{patterns.Fingerprint([]byte(val))})
			if err != nil || info[patterns.Fingerprint([]byte(val))].KeyID != repl {
				t.Fatal("the delivered secret is not the replacement")
			}
			if n := len(w.openIssues(without.KeyID)); n != 1 {
				t.Fatalf("%d open issues for the sinkless key, want 1", n)
			}
		})
	}
}

func TestPlanOver250KeysAndJSON(t *testing.T) {
	w := newWorld(t)
	for i := range 250 {
		w.issue("production", "payments", time.Duration(i)*day)
	}
	r := w.rotator(t, policy(t, "[rotate]\nmax_age = \"200d\"\nwarn_before = \"10d\"\n"), nil)
	p := run(t, r, false, false)
	if len(p.Items) != 250 || p.Count(rotate.ActionReport) != 50 {
		t.Fatalf("%d keys, %d to report; want 250 and 50", len(p.Items), p.Count(rotate.ActionReport))
	}
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Org  string `json:"org"`
		Keys []struct {
			KeyID string `json:"key_id"`
			State string `json:"state"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Org != "acme" || len(back.Keys) != 250 || back.Keys[0].State != rotate.StateDue {
		t.Fatalf("JSON: %v %+v", err, back.Org)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	if _, err := rotate.New(rotate.Options{Policy: config.Default().Rotate}); err == nil {
		t.Fatal("no org accepted")
	}
}

// TestResumeAfterTheGraceRanOut: a sink fails until the old key's grace has
// ended; the old key no longer lists as active, and the next run still
// finishes the rotation with the same replacement.
func TestResumeAfterTheGraceRanOut(t *testing.T) {
	w := newWorld(t)
	old := w.issue("production", "payments", 100*day)
	j := openJournal(t, "")
	r := w.rotator(t, policy(t, fmt.Sprintf("[[rotate.keys]]\nkey_id = %q\ndeliver = [\"github-secret:acme/later:ATOMYX_API_KEY\"]\nrevoke_old = \"2h\"\n", old.KeyID)), j)
	p, err := r.Plan(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(context.Background(), p, false); err == nil {
		t.Fatal("delivery to a missing repository succeeded")
	}
	rot, _, _ := j.GetRotation(old.KeyID)
	if rot.Reissued == nil || rot.Replaced() {
		t.Fatalf("journal: %+v", rot)
	}
	w.clock.Add(3 * time.Hour)
	w.GH.AddRepo("acme", "later", true)
	p = run(t, r, true, false)
	it := item(t, p, old.KeyID)
	if it.Action != rotate.ActionRotate || it.Result != rotate.ResultDone || it.ReplacementID != rot.Reissued.KeyID {
		t.Fatalf("resume: %+v", it)
	}
	v, ok := w.GH.SecretValue(ghapi.SecretTarget{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "later", Name: "ATOMYX_API_KEY"})
	if !ok || patterns.Fingerprint([]byte(v)) != rot.Reissued.Fingerprint {
		t.Fatal("not delivered, or another key")
	}
	if active := w.active(); len(active) != 1 || !active[rot.Reissued.KeyID] {
		t.Fatalf("active keys %v", active)
	}
}
