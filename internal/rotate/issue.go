package rotate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/marker"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// LabelRotation is on every due-key issue; issues are found again by
// listing it, as the responder finds its leak issues by atomyx-leak.
const LabelRotation = "atomyx-rotation"

var (
	keyIDMark = marker.WholeLine("key_id", `key_[0-9A-Za-z]{1,60}`)
	ageMark   = marker.WholeLine("age-days", `[0-9]{1,6}`)
)

// Marker is the hidden line that ties an issue to a key id, in the
// responder's marker scheme (a listing has no fingerprint to mark with).
func Marker(keyID string) string { return keyIDMark.Line(keyID) }

// MarkedKeyIDs returns the key ids an issue body is marked with.
func MarkedKeyIDs(body string) []string { return keyIDMark.Values(body) }

// reportedAge is the age an issue body last reported, or -1.
func reportedAge(body string) int {
	v := ageMark.Values(body)
	if len(v) == 0 {
		return -1
	}
	n, _ := strconv.Atoi(v[0])
	return n
}

func (r *Rotator) labels(env string) []string {
	ls := []string{LabelRotation, "env:" + env}
	for _, l := range r.o.Labels {
		if l != "" && !slices.Contains(ls, l) {
			ls = append(ls, l)
		}
	}
	return ls
}

func (r *Rotator) marked(ctx context.Context, repo ghapi.Repo, keyID string) ([]ghapi.Issue, error) {
	all, err := r.o.GitHub.ListIssues(ctx, repo, LabelRotation)
	if err != nil {
		return nil, err
	}
	return keyIDMark.Issues(all, keyID), nil
}

// report gives a due key with no known sink its one issue, and keeps the
// issue's body current as the key ages. Two runs racing may both open
// one: after creating, a run lists again, the lowest number wins, and a
// run closes its own issue if it lost. The key itself is not touched.
func (r *Rotator) report(ctx context.Context, it *Item) error {
	if r.o.GitHub == nil || r.o.IssueRepo == "" {
		return errors.New("due, with no delivery target, and no issue repository (issue_repo or GITHUB_REPOSITORY) and token to say so")
	}
	repo, err := ghapi.ParseRepo(r.o.IssueRepo)
	if err != nil {
		return err
	}
	unlock := r.o.Journal.RotationLock(it.KeyID)
	defer unlock()
	body := r.issueBody(it)
	found, err := r.marked(ctx, repo, it.KeyID)
	if err != nil {
		return err
	}
	result := ResultUnchanged
	if len(found) == 0 {
		created, err := r.o.GitHub.CreateIssue(ctx, repo, r.issueTitle(it), body, r.labels(it.Environment))
		if err != nil {
			return err
		}
		if found, err = r.marked(ctx, repo, it.KeyID); err != nil {
			return err
		}
		if len(found) == 0 {
			found = []ghapi.Issue{created} // the list lags: trust the create
		}
		if winner := found[0]; winner.Number != created.Number {
			msg := fmt.Sprintf("Duplicate of #%d: another atomyx-guard run reported the same key at the same time.", winner.Number)
			if err := r.o.GitHub.Comment(ctx, repo, created.Number, msg); err != nil {
				return err
			}
			if err := r.o.GitHub.CloseIssue(ctx, repo, created.Number, "not_planned"); err != nil {
				return err
			}
		} else {
			result = ResultDone
			r.o.Logf("%s: due with no known sink: opened %s#%d", it.KeyID, repo, created.Number)
		}
	}
	winner := found[0]
	if result != ResultDone && winner.State == "open" && reportedAge(winner.Body) != it.AgeDays {
		if err := r.o.GitHub.EditIssueBody(ctx, repo, winner.Number, body); err != nil {
			return err
		}
		result = ResultDone
		r.o.Logf("%s: updated %s#%d: %d days old", it.KeyID, repo, winner.Number, it.AgeDays)
	}
	_, err = r.update(it.KeyID, journal.Opened, func(cur *journal.Rotation) {
		cur.Environment, cur.Owner, cur.CreatedAt, cur.IssueRepo = it.Environment, it.Owner, it.CreatedAt, repo.String()
		if cur.Reason == "" {
			cur.Reason = "max_age"
		}
		if cur.ScheduledAt.IsZero() {
			cur.ScheduledAt = r.o.Now().UTC()
		}
		cur.Issue = &journal.IssueRef{Repo: repo.String(), Number: winner.Number, URL: winner.URL, At: r.o.Now().UTC()}
		cur.AgeReported = it.AgeDays
	})
	if err != nil {
		return err
	}
	it.Issue, it.Result = winner.URL, result
	if it.Issue == "" {
		it.Issue = fmt.Sprintf("%s#%d", repo, winner.Number)
	}
	return nil
}

func (r *Rotator) issueTitle(it *Item) string {
	return fmt.Sprintf("Atomyx %s key %s is due for rotation", clean(it.Environment), clean(it.KeyID))
}

// issueBody says whose key it is, how old, and how to rotate it. It never
// holds a key or a fingerprint (the listing has neither).
func (r *Rotator) issueBody(it *Item) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The Atomyx %s key `%s` is **%d days old**; the policy's maximum age is %s (due since %s).\n\n",
		clean(it.Environment), clean(it.KeyID), it.AgeDays, it.MaxAge, clean(it.DueAt))
	b.WriteString("| | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| Key id | `%s` |\n", clean(it.KeyID))
	if o := it.Owner; o != nil {
		owner := strings.Join(slices.DeleteFunc([]string{o.Org, o.Team}, func(s string) bool { return s == "" }), " / ")
		if o.Contact != "" {
			owner += " (" + o.Contact + ")"
		}
		fmt.Fprintf(&b, "| Owner | %s |\n", cell(owner))
	}
	if len(it.Products) > 0 {
		fmt.Fprintf(&b, "| Products | %s |\n", cell(strings.Join(it.Products, ", ")))
	}
	fmt.Fprintf(&b, "| Created | %s |\n", cell(it.CreatedAt))
	last := it.LastUsedAt
	if last == "" {
		last = "never"
	}
	fmt.Fprintf(&b, "| Last used | %s |\n", cell(last))
	b.WriteString("\natomyx-guard did not rotate it: it does not know where the key is used. Either:\n\n")
	b.WriteString("- [ ] tell it, in `.atomyx-guard.toml`, and the next scheduled run rotates it with a grace for the old key:\n\n")
	fmt.Fprintf(&b, "  ```toml\n  [[rotate.keys]]\n  key_id = %q\n  deliver = [\"github-secret:OWNER/REPO:SECRET_NAME\"]\n  revoke_old = \"1h\"\n  ```\n\n", it.KeyID)
	b.WriteString("- [ ] or rotate it by hand in Atomyx's order: create a new key, put it where this one is used, send a controlled test request, then revoke this key.\n\n")
	b.WriteString("atomyx-guard updates this issue as the key ages and stops once the key is rotated or revoked.\n\n")
	b.WriteString(Marker(it.KeyID) + "\n")
	b.WriteString(ageMark.Line(strconv.Itoa(it.AgeDays)) + "\n")
	return b.String()
}

// clean makes Vault-supplied text safe for one line of Markdown, with any
// key-shaped run redacted.
func clean(s string) string {
	s = patterns.RedactRuns(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '`':
			return '\''
		case r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029':
			return ' '
		}
		return r
	}, s)
}

func cell(s string) string { return strings.ReplaceAll(clean(s), "|", "\\|") }
