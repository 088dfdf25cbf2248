package responder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// advance takes an incident from wherever the journal left it to the end,
// committing each step before the next one starts. Each step is safe to
// repeat: Vault calls carry the incident's Idempotency-Keys, secrets are
// overwritten with the same value, and issues are found by their marker
// before one is created.
func (r *Responder) advance(ctx context.Context, in journal.Incident, known bool) (journal.Incident, error) {
	j := r.cfg.Journal
	fp := in.Fingerprint
	var err error
	if !known {
		planned := in
		in, err = j.Update(fp, journal.Detected, func(cur *journal.Incident) error {
			if cur.Fingerprint != "" {
				// Another responder sharing this journal got here first.
				planned = *cur
				return nil
			}
			*cur = planned
			cur.DetectedAt = r.now().UTC()
			return nil
		})
		if err != nil {
			return in, err
		}
		r.logf(in, "detected: %s", in.Action)
	}
	var key patterns.Secret // the replacement, in memory only
	if in.Action == journal.Rotate {
		if in.Reissued == nil {
			in, key, err = r.reissue(ctx, in)
			if errors.Is(err, vault.ErrForbidden) {
				// The leaked key must still stop working: revoke it, and
				// let the issue say who must make the replacement.
				in, err = r.degrade(in, err)
			}
			if err != nil {
				return in, err
			}
		}
	}
	if in.Action == journal.Rotate {
		for _, sink := range in.Sinks {
			if _, ok := in.Delivered[sink.String()]; ok {
				continue
			}
			if r.cfg.GitHub == nil {
				// Planned by a run with a token: the replacement waits,
				// sealed in the journal, and the leaked key keeps working
				// until it is delivered (Atomyx's order).
				return in, fmt.Errorf("the replacement %s waits in the journal for delivery to %s: rerun with GITHUB_TOKEN", in.Reissued.Redacted, sink)
			}
			if key.IsZero() {
				if key, err = r.replacement(ctx, in); err != nil {
					return in, err
				}
			}
			if in, err = r.deliver(ctx, in, sink, key); err != nil {
				return in, err
			}
		}
		if in.VerifiedAt.IsZero() {
			if in, err = r.verifyReplacement(ctx, in); err != nil {
				return in, err
			}
		}
	}
	if in.Action != journal.Report && in.RevokedAt.IsZero() {
		if in, err = r.revoke(ctx, in); err != nil {
			return in, err
		}
	}
	if !r.canIssue(in) {
		if in.FiledAt.IsZero() {
			return r.fileIncident(in, journal.Filed)
		}
		return in, nil
	}
	if in.Issue == nil {
		if in, err = r.openIssue(ctx, in); err != nil {
			return in, err
		}
	}
	if in.ReportedAt.IsZero() {
		if in, err = r.reconcileIssue(ctx, in, in.Locations, journal.Reported); err != nil {
			return in, err
		}
	}
	return in, nil
}

// degrade turns a rotation the Vault refused to reissue (403) into a
// revocation, and journals why. Revoking stays allowed whatever the leaked
// key's roles: it only takes access away.
func (r *Responder) degrade(in journal.Incident, refused error) (journal.Incident, error) {
	why := "the Vault refused to reissue the key"
	var ae *vault.APIError
	if errors.As(refused, &ae) && ae.Role != "" {
		why += fmt.Sprintf(" (the responder's key lacks %s, which the leaked key holds or the reissue needs)", ae.Role)
	}
	in, err := r.cfg.Journal.Update(in.Fingerprint, journal.Degraded, func(cur *journal.Incident) error {
		if cur.Reissued != nil {
			return nil // another responder reissued it meanwhile
		}
		cur.Planned, cur.Action = journal.Rotate, journal.Revoke
		cur.ReissueRefused = why
		cur.Notes = append(cur.Notes, why+": the key is revoked without a replacement; an administrator must issue the replacement")
		return nil
	})
	if err != nil {
		return in, err
	}
	if in.Action == journal.Revoke {
		r.logf(in, "warning: %s: revoking without a replacement; an administrator must issue the replacement", why)
	}
	return in, nil
}

func (r *Responder) logf(in journal.Incident, format string, args ...any) {
	fmt.Fprintf(r.out, "%s %s: %s\n", in.ID, in.Redacted, fmt.Sprintf(format, args...))
}

func (r *Responder) reissueRequest(in journal.Incident) vault.ReissueRequest {
	return vault.ReissueRequest{Reason: "leaked", RevokeOld: in.RevokeOld}
}

// reissue asks the Vault for the replacement and journals it, sealed.
func (r *Responder) reissue(ctx context.Context, in journal.Incident) (journal.Incident, patterns.Secret, error) {
	issued, err := r.cfg.Vault.Reissue(ctx, in.KeyID, r.reissueRequest(in), IdempotencyKey("reissue", in.Fingerprint))
	if err != nil {
		return in, patterns.Secret{}, fmt.Errorf("reissue %s: %w", in.KeyID, err)
	}
	key := issued.Key
	if !patterns.Valid([]byte(key.Reveal())) {
		return in, patterns.Secret{}, fmt.Errorf("reissue %s: the Vault returned something that is not a key", in.KeyID)
	}
	rep := &journal.Replacement{
		At: r.now().UTC(), KeyID: issued.KeyID, Fingerprint: key.Fingerprint(), Redacted: key.String(),
		OldKeyExpiresAt: issued.OldKeyExpiresAt,
	}
	if len(in.Sinks) > 0 {
		// Kept for delivery after a crash, sealed to the journal's key, and
		// dropped once every sink has it.
		rep.Sealed, err = r.cfg.Journal.SealLocal(key)
		rep.SealedTo = "journal"
	} else {
		rep.Sealed, err = journal.Seal(key, r.cfg.Recipient)
		rep.SealedTo = "recipient"
	}
	if err != nil {
		return in, patterns.Secret{}, err
	}
	in, err = r.cfg.Journal.Update(in.Fingerprint, journal.Reissued, func(cur *journal.Incident) error {
		cur.Reissued = rep
		return nil
	})
	if err != nil {
		return in, patterns.Secret{}, err
	}
	r.logf(in, "reissued: replacement %s (%s)", rep.Redacted, rep.KeyID)
	return in, key, nil
}

// replacement recovers the replacement after a restart: from the journal's
// sealed copy, or else by repeating the reissue with the same
// Idempotency-Key, which returns the same key.
func (r *Responder) replacement(ctx context.Context, in journal.Incident) (patterns.Secret, error) {
	rep := in.Reissued
	if rep.SealedTo == "journal" && rep.Sealed != nil {
		if k, err := r.cfg.Journal.OpenLocal(rep.Sealed); err == nil && k.Fingerprint() == rep.Fingerprint {
			return k, nil
		}
	}
	issued, err := r.cfg.Vault.Reissue(ctx, in.KeyID, r.reissueRequest(in), IdempotencyKey("reissue", in.Fingerprint))
	if err != nil {
		return patterns.Secret{}, fmt.Errorf("recover the replacement of %s: %w", in.KeyID, err)
	}
	if issued.Key.Fingerprint() != rep.Fingerprint {
		return patterns.Secret{}, fmt.Errorf("recover the replacement of %s: the Vault returned another key than the journal's %s", in.KeyID, rep.Redacted)
	}
	return issued.Key, nil
}

func (r *Responder) deliver(ctx context.Context, in journal.Incident, sink ghapi.SecretTarget, key patterns.Secret) (journal.Incident, error) {
	if err := r.cfg.GitHub.PutSecret(ctx, sink, key); err != nil {
		return in, err
	}
	in, err := r.cfg.Journal.Update(in.Fingerprint, journal.Delivered, func(cur *journal.Incident) error {
		if cur.Delivered == nil {
			cur.Delivered = map[string]time.Time{}
		}
		cur.Delivered[sink.String()] = r.now().UTC()
		if len(cur.Delivered) >= len(cur.Sinks) && cur.Reissued != nil && cur.Reissued.SealedTo == "journal" {
			cur.Reissued.Sealed = nil // delivered everywhere: no copy kept
			cur.Reissued.SealedTo = ""
		}
		return nil
	})
	if err == nil {
		r.logf(in, "delivered to %s", sink)
	}
	return in, err
}

// verifyReplacement is the controlled test of Atomyx's rotation order:
// the replacement must be active before the old key goes.
func (r *Responder) verifyReplacement(ctx context.Context, in journal.Incident) (journal.Incident, error) {
	fp := in.Reissued.Fingerprint
	res, err := r.cfg.Vault.Verify(ctx, []string{fp})
	if err != nil {
		return in, fmt.Errorf("verify the replacement: %w", err)
	}
	if st := res[fp].Status; st != vault.StatusActive {
		// A client may answer from its cache: ask about the key itself.
		info, err := r.cfg.Vault.Get(ctx, in.Reissued.KeyID)
		if err != nil || info.Status != vault.StatusActive {
			return in, fmt.Errorf("the replacement %s is not active (%s): the old key is left as it is", in.Reissued.Redacted, st)
		}
	}
	in, err = r.cfg.Journal.Update(in.Fingerprint, journal.Verified, func(cur *journal.Incident) error {
		cur.VerifiedAt = r.now().UTC()
		return nil
	})
	if err == nil {
		r.logf(in, "verified: replacement %s is active", in.Reissued.Redacted)
	}
	return in, err
}

func (r *Responder) revoke(ctx context.Context, in journal.Incident) (journal.Incident, error) {
	res, err := r.cfg.Vault.Revoke(ctx, in.KeyID, vault.RevokeRequest{Reason: "leaked", Evidence: in.Evidence}, IdempotencyKey("revoke", in.Fingerprint))
	if err != nil {
		// The call may have failed for a reason that does not matter any
		// more (a conflict, a lost response): what counts is the state.
		info, gerr := r.cfg.Vault.Get(ctx, in.KeyID)
		if gerr != nil || info.Status != vault.StatusRevoked {
			return in, fmt.Errorf("revoke %s: %w", in.KeyID, err)
		}
		res.AlreadyRevoked = true
	}
	in, err = r.cfg.Journal.Update(in.Fingerprint, journal.Revoked, func(cur *journal.Incident) error {
		cur.RevokedAt = r.now().UTC()
		cur.AlreadyRevoked = res.AlreadyRevoked
		return nil
	})
	if err == nil {
		r.logf(in, "revoked %s", in.KeyID)
	}
	return in, err
}

// note reports locations found after an incident was closed: a comment on
// its issue, never a second issue.
func (r *Responder) note(ctx context.Context, f finding.Finding, o Outcome) (Outcome, error) {
	unlock := r.cfg.Journal.Lock(f.Fingerprint)
	defer unlock()
	in, _, err := r.cfg.Journal.Get(f.Fingerprint)
	if err != nil {
		return o, err
	}
	fresh := newLocations(in.Locations, f.Locations)
	if len(fresh) == 0 {
		o.State = StateUnchanged
		return o, nil
	}
	all := append(in.Locations, fresh...)
	finding.SortLocations(all)
	if !r.canIssue(in) {
		if in.Issue != nil {
			// The issue exists: the next run that can reach it comments.
			o.State = StateUnchanged
			return o, nil
		}
		in.Locations = all
		if _, err := r.fileIncident(in, journal.Noted); err != nil {
			return o, err
		}
		o.State = StateUpdated
		return o, nil
	}
	if _, err := r.reconcileIssue(ctx, in, all, journal.Noted); err != nil {
		return o, err
	}
	o.State = StateUpdated
	return o, nil
}
