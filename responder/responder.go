package responder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// Vault is what the responder needs of the Atomyx Vault client.
type Vault interface {
	Verify(ctx context.Context, fingerprints []string) (map[string]vault.KeyInfo, error)
	// Get reads one key's status afresh (a client may cache verifications).
	Get(ctx context.Context, keyID string) (vault.KeyInfo, error)
	Revoke(ctx context.Context, keyID string, req vault.RevokeRequest, idempotencyKey string) (vault.RevokeResponse, error)
	Reissue(ctx context.Context, keyID string, req vault.ReissueRequest, idempotencyKey string) (vault.IssuedKey, error)
}

// GitHub is what the responder needs of GitHub (ghapi.Client).
type GitHub interface {
	ListIssues(ctx context.Context, repo ghapi.Repo, label string) ([]ghapi.Issue, error)
	CreateIssue(ctx context.Context, repo ghapi.Repo, title, body string, labels []string) (ghapi.Issue, error)
	Comments(ctx context.Context, repo ghapi.Repo, number int) ([]string, error)
	Comment(ctx context.Context, repo ghapi.Repo, number int, body string) error
	CloseIssue(ctx context.Context, repo ghapi.Repo, number int, reason string) error
	RepoVisibility(ctx context.Context, repo ghapi.Repo) (ghapi.Visibility, error)
	PutSecret(ctx context.Context, t ghapi.SecretTarget, value patterns.Secret) error
}

// Policy is what to do with a live leaked key of one environment. The
// policy file (.atomyx-guard.toml) decodes straight into it.
type Policy struct {
	Action journal.Action
	// RevokeOld is "immediately" or a grace such as "15m" for keys seen
	// only in private repositories; exposed keys are always revoked
	// immediately.
	RevokeOld vault.RevokeOld
	// Deliver lists where the replacement goes.
	Deliver []ghapi.SecretTarget
}

// DefaultPolicy is the policy when none is configured: production and
// staging rotate, development revokes.
func DefaultPolicy(env string) Policy {
	if env == string(patterns.Development) {
		return Policy{Action: journal.Revoke, RevokeOld: vault.Immediately}
	}
	return Policy{Action: journal.Rotate, RevokeOld: vault.Immediately}
}

// Config wires a Responder.
type Config struct {
	Vault   Vault
	GitHub  GitHub
	Journal *journal.Journal
	// Policy returns the policy of an environment; DefaultPolicy when nil.
	Policy func(env string) Policy
	// IssueRepo is where issues go (issue_repo, or GITHUB_REPOSITORY).
	IssueRepo string
	// Labels are added to atomyx-leak and env:ENV.
	Labels []string
	// IncidentDir receives a Markdown incident file per key when no GitHub
	// issue can be opened (no GitHub client, or no issue repository);
	// "incidents" beside the journal when empty.
	IncidentDir string
	// Recipient receives the replacement, age-sealed in the journal, when
	// a policy has nowhere to deliver it (also when its sinks are GitHub
	// secrets and there is no GitHub client).
	Recipient age.Recipient
	// Repo is the GitHub repository (OWNER/NAME) the findings' git
	// locations belong to, for links and visibility. Optional.
	Repo string
	// Visibility of Repo: "private" or "public" as configured, or "" to ask
	// GitHub. Unknown visibility counts as public.
	Visibility string
	// ServerURL is the GitHub web root for links; https://github.com when
	// empty (GITHUB_SERVER_URL in Actions).
	ServerURL string
	// DryRun prints the plan and changes nothing.
	DryRun bool
	// Out receives the plan and one line per step; io.Discard when nil.
	Out io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OwnFingerprints are the fingerprints of the keys this process runs
	// with (ATOMYX_API_KEY). A finding of one of them, or one marked
	// OwnCredential, is never acted on: revoking it would cut the
	// responder off mid-run, and a scan that reaches its own environment
	// (a symlink to /proc/self/environ) must not turn that into a leak.
	OwnFingerprints []string
}

// Responder acts on findings. Create it with New.
type Responder struct {
	cfg   Config
	out   io.Writer
	now   func() time.Time
	issue ghapi.Repo
	vis   map[string]visibility // by repo, cached for a run
}

// New checks cfg and returns a Responder.
func New(cfg Config) (*Responder, error) {
	if cfg.Vault == nil {
		return nil, errors.New("responder: no Vault client")
	}
	if cfg.Journal == nil && !cfg.DryRun {
		return nil, errors.New("responder: no journal")
	}
	if cfg.Policy == nil {
		cfg.Policy = DefaultPolicy
	}
	if cfg.ServerURL == "" {
		cfg.ServerURL = "https://github.com"
	}
	cfg.ServerURL = strings.TrimSuffix(cfg.ServerURL, "/")
	switch cfg.Visibility {
	case "", "private", "public":
	default:
		return nil, fmt.Errorf("responder: visibility %q: want private or public", cfg.Visibility)
	}
	if cfg.IncidentDir == "" && cfg.Journal != nil {
		cfg.IncidentDir = filepath.Join(filepath.Dir(cfg.Journal.Path()), "incidents")
	}
	r := &Responder{cfg: cfg, out: cfg.Out, now: cfg.Now, vis: map[string]visibility{}}
	if r.out == nil {
		r.out = io.Discard
	}
	if r.now == nil {
		r.now = time.Now
	}
	if cfg.IssueRepo != "" {
		repo, err := ghapi.ParseRepo(cfg.IssueRepo)
		if err != nil {
			return nil, fmt.Errorf("responder: issue repository: %w", err)
		}
		r.issue = repo
	}
	return r, nil
}

// IdempotencyKey is the Idempotency-Key of a Vault call for a key: the same
// on every run and every machine, so that retries converge.
func IdempotencyKey(action, fingerprint string) string {
	sum := sha256.Sum256([]byte("atomyx-guard/v1|" + action + "|" + fingerprint))
	return hex.EncodeToString(sum[:])
}

// Outcome is what a run did with one key.
type Outcome struct {
	ID          string         `json:"id"`
	Fingerprint string         `json:"fingerprint"`
	Redacted    string         `json:"redacted"`
	Environment string         `json:"environment"`
	Action      journal.Action `json:"action,omitempty"`
	// State is planned (dry run), done, unchanged, updated (new locations
	// reported), skipped (not live), or failed.
	State string `json:"state"`
	// Reason says why a key was skipped or failed.
	Reason string `json:"reason,omitempty"`
	Issue  string `json:"issue,omitempty"`
}

// OwnCredentialReason is why the key a run is configured with is skipped.
const OwnCredentialReason = "this run's own credential (ATOMYX_API_KEY): never revoked or reissued automatically; rotate it by hand"

// Outcome states.
const (
	StatePlanned   = "planned"
	StateDone      = "done"
	StateUnchanged = "unchanged"
	StateUpdated   = "updated"
	StateSkipped   = "skipped"
	StateFailed    = "failed"
)

// Summary is what a run did.
type Summary struct {
	Outcomes []Outcome `json:"outcomes"`
}

// Count returns how many outcomes are in state.
func (s Summary) Count(state string) int {
	n := 0
	for _, o := range s.Outcomes {
		if o.State == state {
			n++
		}
	}
	return n
}

// Run acts on the active keys among findings and resumes every unfinished
// incident of the journal. It re-verifies every key first: a status in a
// report may be stale. One key's failure does not stop the others; the
// error joins them all.
func (r *Responder) Run(ctx context.Context, findings []finding.Finding) (Summary, error) {
	byFP := map[string]finding.Finding{}
	for _, f := range findings {
		if !patterns.ValidFingerprint(f.Fingerprint) {
			continue
		}
		if prev, ok := byFP[f.Fingerprint]; ok {
			f = finding.Merge([]finding.Finding{prev}, []finding.Finding{f})[0]
		}
		byFP[f.Fingerprint] = f
	}
	// Unfinished incidents resume even when this run did not find them.
	var incidents map[string]journal.Incident
	if r.cfg.Journal != nil {
		all, err := r.cfg.Journal.List()
		if err != nil {
			return Summary{}, err
		}
		incidents = map[string]journal.Incident{}
		for _, in := range all {
			incidents[in.Fingerprint] = in
			if _, ok := byFP[in.Fingerprint]; !ok && r.unfinished(in) {
				byFP[in.Fingerprint] = finding.Finding{Fingerprint: in.Fingerprint, Redacted: in.Redacted,
					Environment: in.Environment, KeyID: in.KeyID, Locations: in.Locations}
			}
		}
	}
	fps := make([]string, 0, len(byFP))
	for fp := range byFP {
		fps = append(fps, fp)
	}
	slices.Sort(fps)
	infos, err := r.verify(ctx, fps)
	if err != nil {
		return Summary{}, fmt.Errorf("re-verify before acting: %w", err)
	}
	var (
		sum  Summary
		errs []error
	)
	for _, fp := range fps {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		f := byFP[fp]
		if info, ok := infos[fp]; ok {
			applyInfo(&f, info)
		}
		in, known := incidents[fp]
		o, err := r.one(ctx, f, in, known)
		if err != nil {
			o.State, o.Reason = StateFailed, err.Error()
			errs = append(errs, fmt.Errorf("%s %s: %w", o.ID, f.Redacted, err))
			fmt.Fprintf(r.out, "%s %s: failed: %v\n", o.ID, f.Redacted, err)
		}
		sum.Outcomes = append(sum.Outcomes, o)
	}
	return sum, errors.Join(errs...)
}

func applyInfo(f *finding.Finding, info vault.KeyInfo) {
	f.Status = finding.Status(info.Status)
	if info.KeyID != "" {
		f.KeyID = info.KeyID
	}
	if info.Environment != "" {
		f.Environment = info.Environment
	}
	if info.Owner != nil {
		f.Owner = info.Owner
	}
	if len(info.Products) > 0 {
		f.Products = info.Products
	}
	if info.CreatedAt != "" {
		f.CreatedAt = info.CreatedAt
	}
	if info.LastUsedAt != "" {
		f.LastUsedAt = info.LastUsedAt
	}
}

func (r *Responder) verify(ctx context.Context, fps []string) (map[string]vault.KeyInfo, error) {
	out := map[string]vault.KeyInfo{}
	for lo := 0; lo < len(fps); lo += vault.MaxVerifyBatch {
		batch := fps[lo:min(lo+vault.MaxVerifyBatch, len(fps))]
		res, err := r.cfg.Vault.Verify(ctx, batch)
		if err != nil {
			return nil, err
		}
		for k, v := range res {
			out[k] = v
		}
	}
	return out, nil
}

// one decides and does the work for one key.
func (r *Responder) one(ctx context.Context, f finding.Finding, in journal.Incident, known bool) (Outcome, error) {
	o := Outcome{ID: journal.IDFor(f.Fingerprint), Fingerprint: f.Fingerprint, Redacted: f.Redacted, Environment: f.Environment}
	if f.OwnCredential || slices.Contains(r.cfg.OwnFingerprints, f.Fingerprint) {
		o.State, o.Reason = StateSkipped, OwnCredentialReason
		fmt.Fprintf(r.out, "%s %s: warning: %s\n", o.ID, f.Redacted, OwnCredentialReason)
		return o, nil
	}
	if known {
		o.Action = in.Action
		if in.Issue != nil {
			o.Issue = in.Issue.URL
		}
	}
	switch {
	case known && r.unfinished(in):
		// Resume, whatever the key's status now: we may have revoked it.
		// An incident told only in a file resumes to open its issue.
	case known:
		if r.cfg.DryRun {
			if n := len(newLocations(in.Locations, f.Locations)); n > 0 {
				fmt.Fprintf(r.out, "plan: %s %s: comment %d new location(s) on %s\n", o.ID, f.Redacted, n, issueName(in))
				o.State = StatePlanned
				return o, nil
			}
			o.State = StateUnchanged
			return o, nil
		}
		return r.note(ctx, f, o)
	case f.Status != finding.Active:
		o.State, o.Reason = StateSkipped, fmt.Sprintf("status %s: not a live key", f.Status)
		return o, nil
	case f.KeyID == "":
		o.State, o.Reason = StateSkipped, "the Vault gave no key id"
		return o, nil
	}
	if !known {
		var err error
		in, err = r.plan(ctx, f)
		if err != nil {
			return o, err
		}
		o.Action = in.Action
	}
	if r.cfg.DryRun {
		r.printPlan(in, known)
		o.State = StatePlanned
		return o, nil
	}
	unlock := r.cfg.Journal.Lock(f.Fingerprint)
	defer unlock()
	in, err := r.advance(ctx, in, known)
	if in.Issue != nil {
		o.Issue = in.Issue.URL
	}
	if err != nil {
		return o, err
	}
	o.State = StateDone
	return o, nil
}

// plan decides what to do with a newly found live key.
func (r *Responder) plan(ctx context.Context, f finding.Finding) (journal.Incident, error) {
	pol := r.cfg.Policy(f.Environment)
	locs := slices.Clone(f.Locations)
	finding.SortLocations(locs)
	in := journal.Incident{
		ID: journal.IDFor(f.Fingerprint), Fingerprint: f.Fingerprint, Redacted: f.Redacted,
		Environment: f.Environment, KeyID: f.KeyID, Owner: f.Owner, Products: f.Products,
		Action: pol.Action, Locations: locs, IssueRepo: r.issue.String(),
	}
	if r.issue.Owner == "" {
		in.IssueRepo = ""
	}
	if in.Action == "" {
		in.Action = journal.Report
	}
	pub, why := r.exposure(ctx, locs)
	in.Public = pub
	in.Notes = append(in.Notes, why)
	in.Evidence = evidence(r.cfg.ServerURL, r.cfg.Repo, locs)
	if in.Action == journal.Rotate {
		for _, s := range pol.Deliver {
			if err := s.Validate(); err != nil {
				return in, fmt.Errorf("policy for %s: %w", f.Environment, err)
			}
			if r.cfg.GitHub == nil {
				// Every sink is a GitHub secret: without a token it cannot
				// be reached, and the replacement must not wait for it
				// while the leaked key still works.
				in.Notes = append(in.Notes, fmt.Sprintf("no GitHub token: the replacement cannot be delivered to %s", s))
				continue
			}
			in.Sinks = append(in.Sinks, s)
		}
		if len(in.Sinks) == 0 && r.cfg.Recipient == nil {
			in.Planned, in.Action = journal.Rotate, journal.Revoke
			in.Notes = append(in.Notes, "no delivery target and no recipient are configured: the key is revoked without a replacement")
		}
		in.RevokeOld = vault.Immediately
		if !pub {
			if _, err := pol.RevokeOld.Grace(); err != nil {
				in.Notes = append(in.Notes, "revoke_old: "+err.Error()+": revoking immediately")
			} else if pol.RevokeOld != "" {
				in.RevokeOld = pol.RevokeOld
			}
		}
	}
	return in, nil
}

func (r *Responder) printPlan(in journal.Incident, resume bool) {
	verb := "plan"
	if resume {
		verb = "plan (resume)"
	}
	exposure := "exposure unknown"
	if len(in.Notes) > 0 {
		exposure = "private: " + in.Notes[0]
		if in.Public {
			exposure = "exposed: " + in.Notes[0]
		}
	}
	fmt.Fprintf(r.out, "%s: %s %s %s key %s: %s (%s)\n", verb, in.ID, in.Redacted, in.Environment, in.KeyID, in.Action, exposure)
	for _, n := range in.Notes[min(1, len(in.Notes)):] {
		fmt.Fprintf(r.out, "  note: %s\n", n)
	}
	if in.Action == journal.Rotate {
		if in.Reissued == nil {
			fmt.Fprintf(r.out, "  reissue through the Vault (old key: revoke %s)\n", in.RevokeOld)
		}
		for _, s := range in.Sinks {
			if _, ok := in.Delivered[s.String()]; !ok {
				fmt.Fprintf(r.out, "  deliver to %s\n", s)
			}
		}
		if len(in.Sinks) == 0 && in.Reissued == nil {
			fmt.Fprintf(r.out, "  seal the replacement to the recipient, in the journal\n")
		}
		if in.VerifiedAt.IsZero() {
			fmt.Fprintf(r.out, "  verify that the replacement is active\n")
		}
	}
	if in.Action != journal.Report && in.RevokedAt.IsZero() {
		fmt.Fprintf(r.out, "  revoke %s\n", in.KeyID)
	}
	switch {
	case !in.ReportedAt.IsZero():
	case !r.canIssue(in):
		fmt.Fprintf(r.out, "  write the incident file %s (no GitHub issue: %s)\n", r.incidentPath(in), r.whyNoIssue())
	default:
		repo, _ := r.issueRepo(in)
		fmt.Fprintf(r.out, "  open or update the issue in %s\n", repo)
	}
}

// canIssue reports whether the incident's GitHub issue can be opened or
// updated by this run: a GitHub client and an issue repository.
func (r *Responder) canIssue(in journal.Incident) bool {
	return r.cfg.GitHub != nil && (in.IssueRepo != "" || r.issue.Owner != "")
}

// unfinished reports whether a journaled incident has work left for this
// run: steps not done, or an issue owed since it was told only in a file.
func (r *Responder) unfinished(in journal.Incident) bool {
	return !in.Done() || (in.IssuePending() && r.canIssue(in))
}

func issueName(in journal.Incident) string {
	if in.Issue == nil {
		return "the issue"
	}
	return fmt.Sprintf("%s#%d", in.Issue.Repo, in.Issue.Number)
}
