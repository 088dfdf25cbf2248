package responder

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/marker"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// LabelLeak is on every issue the responder opens; issues are found again
// by listing it, never by search (GitHub's search index lags).
const LabelLeak = "atomyx-leak"

var (
	fingerprintMark = marker.WholeLine("fingerprint", `sha256:[0-9a-f]{64}`)
	locationMark    = marker.Trailing("location", `[0-9a-f]{12}`)
)

// Marker is the hidden line that ties an issue to a key.
func Marker(fp string) string { return fingerprintMark.Line(fp) }

// markedFingerprints returns the fingerprints an issue body is marked with.
func markedFingerprints(body string) []string { return fingerprintMark.Values(body) }

// listedLocations returns the location ids a text lists.
func listedLocations(text string) []string { return locationMark.Values(text) }

func (r *Responder) labels(env string) []string {
	ls := []string{LabelLeak, "env:" + env}
	for _, l := range r.cfg.Labels {
		if l != "" && !slices.Contains(ls, l) {
			ls = append(ls, l)
		}
	}
	return ls
}

func (r *Responder) issueRepo(in journal.Incident) (ghapi.Repo, error) {
	if in.IssueRepo != "" {
		return ghapi.ParseRepo(in.IssueRepo)
	}
	return r.issue, nil
}

// marked lists the issues that carry fp's marker, lowest number first.
func (r *Responder) marked(ctx context.Context, repo ghapi.Repo, fp string) ([]ghapi.Issue, error) {
	all, err := r.cfg.GitHub.ListIssues(ctx, repo, LabelLeak)
	if err != nil {
		return nil, err
	}
	return fingerprintMark.Issues(all, fp), nil
}

// openIssue finds the key's issue or opens it. Two responders racing may
// both open one: after creating, it lists again, the lowest number wins,
// and a responder closes its own issue if it lost.
func (r *Responder) openIssue(ctx context.Context, in journal.Incident) (journal.Incident, error) {
	repo, err := r.issueRepo(in)
	if err != nil {
		return in, err
	}
	found, err := r.marked(ctx, repo, in.Fingerprint)
	if err != nil {
		return in, err
	}
	if len(found) == 0 {
		created, err := r.cfg.GitHub.CreateIssue(ctx, repo, r.title(in), r.body(in), r.labels(in.Environment))
		if err != nil {
			return in, err
		}
		if found, err = r.marked(ctx, repo, in.Fingerprint); err != nil {
			return in, err
		}
		if len(found) == 0 {
			found = []ghapi.Issue{created} // the list lags: trust the create
		}
		if winner := found[0]; winner.Number != created.Number {
			if err := r.closeDuplicate(ctx, repo, created.Number, winner); err != nil {
				return in, err
			}
		}
	}
	winner := found[0]
	in, err = r.cfg.Journal.Update(in.Fingerprint, journal.Opened, func(cur *journal.Incident) error {
		cur.Issue = &journal.IssueRef{Repo: repo.String(), Number: winner.Number, URL: winner.URL, At: r.now().UTC()}
		return nil
	})
	if err == nil {
		r.logf(in, "issue %s#%d", repo, winner.Number)
	}
	return in, err
}

func (r *Responder) closeDuplicate(ctx context.Context, repo ghapi.Repo, number int, winner ghapi.Issue) error {
	if err := r.cfg.GitHub.Comment(ctx, repo, number, fmt.Sprintf("Duplicate of #%d: another atomyx-guard run reported the same key at the same time.", winner.Number)); err != nil {
		return err
	}
	return r.cfg.GitHub.CloseIssue(ctx, repo, number, "not_planned")
}

// reconcileIssue makes the key's issue the only open one and makes it list
// every location in locs, commenting the ones it lacks; then it commits
// step. Repeating it changes nothing.
func (r *Responder) reconcileIssue(ctx context.Context, in journal.Incident, locs []finding.Location, step journal.Step) (journal.Incident, error) {
	repo, err := r.issueRepo(in)
	if err != nil {
		return in, err
	}
	found, err := r.marked(ctx, repo, in.Fingerprint)
	if err != nil {
		return in, err
	}
	var winner ghapi.Issue
	switch {
	case len(found) > 0:
		winner = found[0]
	case in.Issue != nil:
		// The marker or the label was removed by hand: keep to our issue.
		winner = ghapi.Issue{Number: in.Issue.Number, URL: in.Issue.URL, State: "open"}
	default:
		return in, fmt.Errorf("no issue in %s carries the key's marker", repo)
	}
	for _, dup := range found[min(1, len(found)):] {
		if dup.State == "open" {
			if err := r.closeDuplicate(ctx, repo, dup.Number, winner); err != nil {
				return in, err
			}
		}
	}
	listed := map[string]bool{}
	for _, id := range listedLocations(winner.Body) {
		listed[id] = true
	}
	if len(found) == 0 {
		// No body to read: only the comments count.
		listed = map[string]bool{}
	}
	comments, err := r.cfg.GitHub.Comments(ctx, repo, winner.Number)
	if err != nil {
		return in, err
	}
	for _, c := range comments {
		for _, id := range listedLocations(c) {
			listed[id] = true
		}
	}
	var fresh []finding.Location
	for _, l := range locs {
		if !listed[locationID(l)] {
			fresh = append(fresh, l)
		}
	}
	if len(fresh) > 0 && (step == journal.Noted || len(found) > 0) {
		var b strings.Builder
		fmt.Fprintf(&b, "atomyx-guard found the key `%s` in %d more place(s) on %s:\n\n", in.Redacted, len(fresh), r.now().UTC().Format(time.RFC3339))
		r.writeLocations(&b, fresh)
		if in.Action != journal.Report {
			b.WriteString("\nThe key is already revoked; remove it from these places too.\n")
		}
		if err := r.cfg.GitHub.Comment(ctx, repo, winner.Number, b.String()); err != nil {
			return in, err
		}
	}
	in, err = r.cfg.Journal.Update(in.Fingerprint, step, func(cur *journal.Incident) error {
		cur.Issue = &journal.IssueRef{Repo: repo.String(), Number: winner.Number, URL: winner.URL, At: r.now().UTC()}
		if cur.ReportedAt.IsZero() {
			cur.ReportedAt = r.now().UTC()
		}
		cur.Locations = locs
		return nil
	})
	if err == nil {
		if step == journal.Noted {
			r.logf(in, "commented %d new location(s) on %s#%d", len(fresh), repo, winner.Number)
		} else {
			r.logf(in, "reported in %s#%d", repo, winner.Number)
		}
	}
	return in, err
}

// title is the issue title: "Leaked Atomyx production key atmx_prd_q7Lw…
// in acme/app".
func (r *Responder) title(in journal.Incident) string {
	where := r.cfg.Repo
	if where == "" {
		for _, l := range in.Locations {
			if u, err := url.Parse(l.URL); err == nil && u.Host != "" {
				where = u.Host
				break
			}
		}
	}
	t := fmt.Sprintf("Leaked Atomyx %s key %s", in.Environment, in.Redacted)
	if where != "" {
		t += " in " + clean(where)
	}
	return t
}

// clean makes untrusted text (paths, URLs from scanned content) safe for
// one line of Markdown inside a code span: no line breaks, no backticks,
// no control characters.
func clean(s string) string {
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

func (r *Responder) writeLocations(b *strings.Builder, locs []finding.Location) {
	for _, l := range locs {
		file, commit := links(r.cfg.ServerURL, r.cfg.Repo, l)
		b.WriteString("- ")
		switch {
		case l.Source == finding.SourceURL:
			fmt.Fprintf(b, "%s", mdLink(clean(l.URL), file))
		case l.Path != "":
			p := "`" + clean(l.Path) + "`"
			if file != "" {
				p = mdLink(p, file)
			}
			b.WriteString(p)
		default:
			b.WriteString(clean(l.Source))
		}
		if l.Kind != "" && l.Kind != finding.KindBlob {
			fmt.Fprintf(b, " (%s)", clean(l.Kind))
		}
		if l.Line > 0 {
			fmt.Fprintf(b, " line %d", l.Line)
		}
		if l.Commit != "" {
			short := clean(l.Commit[:min(12, len(l.Commit))])
			if commit != "" {
				fmt.Fprintf(b, " in commit %s", mdLink("`"+short+"`", commit))
			} else {
				fmt.Fprintf(b, " in commit `%s`", short)
			}
		}
		if l.Date != "" {
			fmt.Fprintf(b, " (%s)", clean(l.Date))
		}
		if l.Original != nil {
			fmt.Fprintf(b, ", from `%s` line %d", clean(l.Original.Path), l.Original.Line)
		}
		if l.Unreachable {
			b.WriteString(", in an unreachable object")
		}
		b.WriteString(" " + locationMark.Line(locationID(l)) + "\n")
	}
}

// mdLink is a Markdown link whose target cannot break out of the link.
func mdLink(text, target string) string {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return text
	}
	t := strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E").Replace(clean(target))
	text = strings.NewReplacer("[", "\\[", "]", "\\]").Replace(text)
	return "[" + text + "](" + t + ")"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// body is the issue's text: what leaked, where, what was done when, and
// what the owner must still do. It never holds a whole key.
func (r *Responder) body(in journal.Incident) string {
	var b strings.Builder
	fmt.Fprintf(&b, "atomyx-guard found a live Atomyx %s key where it does not belong and acted on it.\n\n", in.Environment)
	b.WriteString("| | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| Key | `%s` (%s) |\n", in.Redacted, clean(in.KeyID))
	fmt.Fprintf(&b, "| Fingerprint | `%s` |\n", in.Fingerprint)
	fmt.Fprintf(&b, "| Environment | %s |\n", clean(in.Environment))
	if o := in.Owner; o != nil {
		owner := strings.Join(nonEmpty(o.Org, o.Team), " / ")
		if o.Contact != "" {
			owner += " (" + o.Contact + ")"
		}
		fmt.Fprintf(&b, "| Owner | %s |\n", strings.ReplaceAll(clean(owner), "|", "\\|"))
	}
	if len(in.Products) > 0 {
		fmt.Fprintf(&b, "| Products | %s |\n", strings.ReplaceAll(clean(strings.Join(in.Products, ", ")), "|", "\\|"))
	}
	exposure := "private"
	if in.Public {
		exposure = "public"
	}
	if len(in.Notes) > 0 {
		exposure += ": " + in.Notes[0]
	}
	fmt.Fprintf(&b, "| Exposure | %s |\n", strings.ReplaceAll(clean(exposure), "|", "\\|"))

	b.WriteString("\n### Where it was found\n\n")
	r.writeLocations(&b, in.Locations)

	b.WriteString("\n### What atomyx-guard did\n\n")
	fmt.Fprintf(&b, "- %s: detected the key, live according to the Atomyx Vault; policy: %s\n", stamp(in.DetectedAt), in.Action)
	for _, n := range in.Notes[min(1, len(in.Notes)):] {
		fmt.Fprintf(&b, "- note: %s\n", clean(n))
	}
	if rep := in.Reissued; rep != nil {
		old := "the leaked key stopped working at once"
		if in.RevokeOld != vault.Immediately {
			old = "the old key kept working for at most " + string(in.RevokeOld) + " while the replacement was deployed and tested"
		}
		fmt.Fprintf(&b, "- %s: reissued a replacement `%s` (%s) through the Atomyx Vault, same environment, products and owner; %s\n", stamp(rep.At), rep.Redacted, rep.KeyID, old)
		for _, s := range in.Sinks {
			if at, ok := in.Delivered[s.String()]; ok {
				fmt.Fprintf(&b, "- %s: delivered the replacement to `%s`, sealed to its public key\n", stamp(at), s)
			}
		}
		if len(in.Sinks) == 0 {
			fmt.Fprintf(&b, "- %s: sealed the replacement to the operator's age recipient in the responder's journal (incident `%s`)\n", stamp(rep.At), in.ID)
		}
		if !in.VerifiedAt.IsZero() {
			fmt.Fprintf(&b, "- %s: verified that the replacement is active\n", stamp(in.VerifiedAt))
		}
	}
	if !in.RevokedAt.IsZero() {
		already := ""
		if in.AlreadyRevoked {
			already = " (the Vault had already revoked it)"
		}
		fmt.Fprintf(&b, "- %s: revoked the leaked key %s%s\n", stamp(in.RevokedAt), clean(in.KeyID), already)
	}

	b.WriteString("\n### What you still have to do\n\n")
	for _, todo := range r.todo(in) {
		fmt.Fprintf(&b, "- [ ] %s\n", todo)
	}
	b.WriteString("\n" + issueFooter + "\n")
	b.WriteString(Marker(in.Fingerprint) + "\n")
	return b.String()
}

func (r *Responder) todo(in journal.Incident) []string {
	var out []string
	switch in.Action {
	case journal.Rotate:
		if len(in.Sinks) > 0 {
			out = append(out, fmt.Sprintf("Redeploy or re-run whatever reads %s so that it uses the replacement, and watch for failed authentications.", strings.Join(quoteAll(in.Sinks), ", ")))
		} else {
			out = append(out, fmt.Sprintf("Ask the operator for the replacement (`atomyx-guard respond show %s --identity FILE`), put it where the leaked key was used, and watch for failed authentications.", in.ID))
		}
		out = append(out, "Update any other place that used the leaked key: it no longer works.")
	case journal.Revoke:
		if in.ReissueRefused != "" {
			out = append(out, "An administrator must issue the replacement in the Atomyx Vault (it refused the responder's reissue; see the note above), then configure it where the leaked key was used: calls with the leaked key now fail with 401.")
			break
		}
		out = append(out, "Issue a new key in the Atomyx Vault and configure it where the leaked key was used: calls with the leaked key now fail with 401.")
	case journal.Report:
		out = append(out, "The key is still active. Rotate it in Atomyx's order: create a new key, put it into the integration's configuration, send a controlled test request, confirm it succeeds, then revoke this key.")
	}
	out = append(out,
		"Remove the key from the places listed above (and from git history if it is there), so that nobody copies it again.",
		"Check the key's usage in the Atomyx Vault for calls you do not recognise since it leaked.")
	return out
}

func quoteAll(ts []ghapi.SecretTarget) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = "`" + t.String() + "`"
	}
	return out
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
