package responder

import (
	"fmt"
	"io"
	"time"

	"filippo.io/age"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// Show writes what the journal knows of an incident (named by id or
// fingerprint). When the replacement was sealed to the operator's
// recipient and ids open it, the replacement is written on the last line:
// the only place atomyx-guard ever prints a whole key.
func Show(j *journal.Journal, name string, ids []age.Identity, w io.Writer) error {
	in, err := j.Find(name)
	if err != nil {
		return err
	}
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%-12s %s\n", k, fmt.Sprintf(format, args...)) }
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	row("incident", "%s", in.ID)
	row("key", "%s (%s), %s", in.Redacted, in.KeyID, in.Environment)
	row("fingerprint", "%s", in.Fingerprint)
	row("action", "%s", in.Action)
	for _, n := range in.Notes {
		row("note", "%s", n)
	}
	row("detected", "%s", at(in.DetectedAt))
	if rep := in.Reissued; rep != nil {
		row("reissued", "%s replacement %s (%s)", at(rep.At), rep.Redacted, rep.KeyID)
	}
	for _, t := range in.Sinks {
		s := t.String()
		if t, ok := in.Delivered[s]; ok {
			row("delivered", "%s to %s", at(t), s)
		} else {
			row("pending", "delivery to %s", s)
		}
	}
	if !in.VerifiedAt.IsZero() {
		row("verified", "%s", at(in.VerifiedAt))
	}
	if !in.RevokedAt.IsZero() {
		row("revoked", "%s", at(in.RevokedAt))
	}
	if in.Issue != nil {
		row("issue", "%s#%d %s", in.Issue.Repo, in.Issue.Number, in.Issue.URL)
	}
	if in.IncidentFile != "" {
		row("file", "%s %s", at(in.FiledAt), in.IncidentFile)
	}
	state := "in progress (the next run resumes it)"
	switch {
	case in.IssuePending():
		state = "done, told in the incident file only (a run with a GitHub token opens the issue)"
	case in.Done():
		state = "done"
	}
	row("state", "%s", state)
	rep := in.Reissued
	if rep == nil || rep.SealedTo != "recipient" || rep.Sealed == nil {
		return nil
	}
	if len(ids) == 0 {
		row("replacement", "sealed to the operator's recipient: pass --identity to open it")
		return nil
	}
	key, err := journal.OpenSealed(rep.Sealed, ids...)
	if err != nil {
		return fmt.Errorf("%s: %w", in.ID, err)
	}
	if key.Fingerprint() != rep.Fingerprint {
		return fmt.Errorf("%s: the sealed key is not the journal's replacement", in.ID)
	}
	fmt.Fprintf(w, "replacement:\n%s\n", key.Reveal())
	return nil
}
