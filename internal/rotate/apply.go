package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// Results of --apply, per key.
const (
	ResultDone      = "done"
	ResultUnchanged = "unchanged"
	ResultSkipped   = "skipped"
	ResultFailed    = "failed"
)

// Reasons recorded in the journal and sent to the Vault.
const (
	reasonScheduled = "scheduled rotation"
	reasonUnused    = "unused"
)

// Idempotency-Key actions. The key is derived from the key id (a listing
// has no fingerprint), so that every run on every machine sends the same
// one and the Vault makes one replacement.
const (
	idemReissue = "scheduled-reissue"
	idemRevoke  = "scheduled-revoke"
	idemUnused  = "unused-revoke"
)

// vaultGrace is the revoke_old a scheduled reissue asks of the Vault. For
// "immediately" it asks for the longest grace and revokes the old key
// itself once the replacement is verified: create, deploy, test, then
// revoke, never revoke first.
func vaultGrace(revokeOld string) vault.RevokeOld {
	if revokeOld == "" || revokeOld == string(vault.Immediately) {
		return vault.RevokeOld(vault.MaxGrace.String())
	}
	return vault.RevokeOld(revokeOld)
}

// Apply carries out a plan: rotates the due keys with sinks, reports the
// due keys without, confirms the end of old keys' grace, and, with
// revokeUnused, revokes unused keys. One key's failure does not stop the
// others; the error joins them all.
func (r *Rotator) Apply(ctx context.Context, p *Plan, revokeUnused bool) error {
	if r.o.Journal == nil {
		return errors.New("rotate: --apply needs the journal")
	}
	p.Applied = true
	var errs []error
	for i := range p.Items {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		it := &p.Items[i]
		var err error
		switch it.Action {
		case ActionRotate:
			err = r.rotate(ctx, it)
		case ActionReport:
			err = r.report(ctx, it)
		case ActionWait:
			err = r.confirmEnd(ctx, it)
		case ActionRevokeUnused:
			if !revokeUnused {
				it.Result, it.Detail = ResultSkipped, "proposed: revoked only with --revoke-unused"
				continue
			}
			err = r.revokeUnused(ctx, it)
		default:
			continue
		}
		if err != nil {
			it.Result, it.Detail = ResultFailed, err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", it.KeyID, err))
			r.o.Logf("%s: failed: %v", it.KeyID, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Rotator) update(keyID string, step journal.Step, fn func(*journal.Rotation)) (journal.Rotation, error) {
	return r.o.Journal.UpdateRotation(keyID, step, func(cur *journal.Rotation) error {
		fn(cur)
		return nil
	})
}

// rotate takes one key's rotation from wherever the journal left it to the
// end, committing each step before the next starts. Every step is safe to
// repeat: the reissue and revoke carry the key's Idempotency-Keys, a
// secret is overwritten with the same value.
func (r *Rotator) rotate(ctx context.Context, it *Item) error {
	if r.o.GitHub == nil {
		return errors.New("no GitHub client to deliver with (GITHUB_TOKEN)")
	}
	unlock := r.o.Journal.RotationLock(it.KeyID)
	defer unlock()
	rot, _, err := r.o.Journal.GetRotation(it.KeyID)
	if err != nil {
		return err
	}
	if rot.Replaced() && (rot.RevokeOld != string(vault.Immediately) || !rot.RevokedAt.IsZero()) {
		// Another run (sharing this journal) finished it meanwhile.
		r.describe(it, rot)
		it.Result = ResultUnchanged
		return nil
	}
	if rot.Reissued == nil && (rot.ScheduledAt.IsZero() || len(rot.Sinks) == 0) {
		rot, err = r.update(it.KeyID, journal.Scheduled, func(cur *journal.Rotation) {
			if cur.Reissued != nil {
				return
			}
			cur.Environment, cur.Owner, cur.CreatedAt = it.Environment, it.Owner, it.CreatedAt
			cur.Reason, cur.RevokeOld, cur.Sinks = "max_age", it.RevokeOld, it.sinks
			if cur.ScheduledAt.IsZero() {
				cur.ScheduledAt = r.o.Now().UTC()
			}
		})
		if err != nil {
			return err
		}
		r.o.Logf("%s: due (%d days old, max %s): rotating to %d sink(s)", it.KeyID, it.AgeDays, it.MaxAge, len(rot.Sinks))
	}
	if len(rot.Sinks) == 0 {
		return errors.New("no delivery target")
	}
	var key patterns.Secret // the replacement, in memory only
	if rot.Reissued == nil {
		if rot, key, err = r.reissue(ctx, rot); err != nil {
			return err
		}
	}
	for _, sink := range rot.Sinks {
		if _, ok := rot.Delivered[sink.String()]; ok {
			continue
		}
		if key.IsZero() {
			if key, err = r.replacement(ctx, rot); err != nil {
				return err
			}
		}
		if err := sink.Validate(); err != nil {
			return err
		}
		if err := r.o.GitHub.PutSecret(ctx, sink, key); err != nil {
			return fmt.Errorf("deliver to %s: %w", sink, err)
		}
		rot, err = r.update(it.KeyID, journal.Delivered, func(cur *journal.Rotation) {
			if cur.Delivered == nil {
				cur.Delivered = map[string]time.Time{}
			}
			cur.Delivered[sink.String()] = r.o.Now().UTC()
			if len(cur.Delivered) >= len(cur.Sinks) && cur.Reissued != nil {
				cur.Reissued.Sealed, cur.Reissued.SealedTo = nil, "" // delivered everywhere: no copy kept
			}
		})
		if err != nil {
			return err
		}
		r.o.Logf("%s: delivered %s to %s", it.KeyID, rot.Reissued.Redacted, sink)
	}
	if rot.VerifiedAt.IsZero() {
		// The controlled test of Atomyx's order: the replacement must be
		// active before the old key may go.
		info, err := r.o.Vault.Get(ctx, rot.Reissued.KeyID)
		if err != nil {
			return fmt.Errorf("verify the replacement: %w", err)
		}
		if info.Status != vault.StatusActive {
			return fmt.Errorf("the replacement %s is %s: the old key is left as it is", rot.Reissued.Redacted, info.Status)
		}
		if rot, err = r.update(it.KeyID, journal.Verified, func(cur *journal.Rotation) { cur.VerifiedAt = r.o.Now().UTC() }); err != nil {
			return err
		}
		r.o.Logf("%s: verified: replacement %s is active", it.KeyID, rot.Reissued.Redacted)
	}
	if rot.RevokeOld == string(vault.Immediately) && rot.RevokedAt.IsZero() {
		_, err := r.o.Vault.Revoke(ctx, it.KeyID, vault.RevokeRequest{Reason: reasonScheduled}, responder.IdempotencyKey(idemRevoke, it.KeyID))
		if err != nil {
			return fmt.Errorf("revoke the old key: %w", err)
		}
		if rot, err = r.update(it.KeyID, journal.Revoked, func(cur *journal.Rotation) { cur.RevokedAt = r.o.Now().UTC() }); err != nil {
			return err
		}
		r.o.Logf("%s: revoked the old key", it.KeyID)
	}
	r.describe(it, rot)
	it.Result = ResultDone
	return nil
}

func (r *Rotator) describe(it *Item, rot journal.Rotation) {
	if rot.Reissued == nil {
		return
	}
	it.Replacement, it.ReplacementID = rot.Reissued.Redacted, rot.Reissued.KeyID
	switch {
	case !rot.RevokedAt.IsZero():
		it.Detail = "old key revoked"
	case rot.Reissued.OldKeyExpiresAt != "":
		it.Detail = "the old key works until " + rot.Reissued.OldKeyExpiresAt
	}
}

func (r *Rotator) reissueRequest(rot journal.Rotation) vault.ReissueRequest {
	return vault.ReissueRequest{Reason: reasonScheduled, RevokeOld: vaultGrace(rot.RevokeOld)}
}

// reissue asks the Vault for the replacement and journals it, sealed to
// the journal's key until every sink has it.
func (r *Rotator) reissue(ctx context.Context, rot journal.Rotation) (journal.Rotation, patterns.Secret, error) {
	issued, err := r.o.Vault.Reissue(ctx, rot.KeyID, r.reissueRequest(rot), responder.IdempotencyKey(idemReissue, rot.KeyID))
	if err != nil {
		return rot, patterns.Secret{}, fmt.Errorf("reissue: %w", err)
	}
	key := issued.Key
	sealed, err := r.o.Journal.SealLocal(key)
	if err != nil {
		return rot, patterns.Secret{}, err
	}
	rep := &journal.Replacement{At: r.o.Now().UTC(), KeyID: issued.KeyID, Fingerprint: key.Fingerprint(),
		Redacted: key.String(), OldKeyExpiresAt: issued.OldKeyExpiresAt, Sealed: sealed, SealedTo: "journal"}
	rot, err = r.update(rot.KeyID, journal.Reissued, func(cur *journal.Rotation) { cur.Reissued = rep })
	if err != nil {
		return rot, patterns.Secret{}, err
	}
	r.o.Logf("%s: reissued: replacement %s (%s)", rot.KeyID, rep.Redacted, rep.KeyID)
	return rot, key, nil
}

// replacement recovers the replacement after a restart: from the
// journal's sealed copy, or else by repeating the reissue with the same
// Idempotency-Key, which returns the same key.
func (r *Rotator) replacement(ctx context.Context, rot journal.Rotation) (patterns.Secret, error) {
	rep := rot.Reissued
	if rep.Sealed != nil {
		if k, err := r.o.Journal.OpenLocal(rep.Sealed); err == nil && k.Fingerprint() == rep.Fingerprint {
			return k, nil
		}
	}
	issued, err := r.o.Vault.Reissue(ctx, rot.KeyID, r.reissueRequest(rot), responder.IdempotencyKey(idemReissue, rot.KeyID))
	if err != nil {
		return patterns.Secret{}, fmt.Errorf("recover the replacement: %w", err)
	}
	if issued.Key.Fingerprint() != rep.Fingerprint {
		return patterns.Secret{}, fmt.Errorf("recover the replacement: the Vault returned another key than the journal's %s", rep.Redacted)
	}
	return issued.Key, nil
}

// confirmEnd records the end of an old key's grace once the Vault says it
// no longer works.
func (r *Rotator) confirmEnd(ctx context.Context, it *Item) error {
	unlock := r.o.Journal.RotationLock(it.KeyID)
	defer unlock()
	rot, ok, err := r.o.Journal.GetRotation(it.KeyID)
	if err != nil || !ok {
		return err
	}
	if !rot.RevokedAt.IsZero() {
		r.describe(it, rot)
		it.Result = ResultUnchanged
		return nil
	}
	info, err := r.o.Vault.Get(ctx, it.KeyID)
	if err != nil {
		return fmt.Errorf("status of the old key: %w", err)
	}
	if info.Status == vault.StatusActive {
		r.describe(it, rot)
		it.Result = ResultUnchanged
		return nil
	}
	rot, err = r.update(it.KeyID, journal.Revoked, func(cur *journal.Rotation) { cur.RevokedAt = r.o.Now().UTC() })
	if err != nil {
		return err
	}
	r.o.Logf("%s: the old key's grace ended (%s)", it.KeyID, info.Status)
	r.describe(it, rot)
	it.Result = ResultDone
	return nil
}

// revokeUnused revokes a key nobody used for unused_after.
func (r *Rotator) revokeUnused(ctx context.Context, it *Item) error {
	unlock := r.o.Journal.RotationLock(it.KeyID)
	defer unlock()
	if _, err := r.o.Vault.Revoke(ctx, it.KeyID, vault.RevokeRequest{Reason: reasonUnused}, responder.IdempotencyKey(idemUnused, it.KeyID)); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	_, err := r.update(it.KeyID, journal.Revoked, func(cur *journal.Rotation) {
		cur.Environment, cur.Owner, cur.CreatedAt, cur.Reason = it.Environment, it.Owner, it.CreatedAt, reasonUnused
		if cur.ScheduledAt.IsZero() {
			cur.ScheduledAt = r.o.Now().UTC()
		}
		if cur.RevokedAt.IsZero() {
			cur.RevokedAt = r.o.Now().UTC()
		}
	})
	if err != nil {
		return err
	}
	r.o.Logf("%s: revoked (unused for %d days)", it.KeyID, it.UnusedDays)
	it.Result, it.Detail = ResultDone, fmt.Sprintf("revoked: unused for %d days", it.UnusedDays)
	return nil
}
