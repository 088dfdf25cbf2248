package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"filippo.io/age"
	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/org"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/gitsource"
)

// process fetches a repository once for a batch of jobs, scans what they
// brought, responds to live keys, and advances the state. An error leaves
// the state as it was, so that a retry or a reconcile scans it again.
func (s *Server) process(ctx context.Context, repo string, jobs []Job) error {
	last := jobs[len(jobs)-1]
	publicized := slices.ContainsFunc(jobs, func(j Job) bool { return j.Publicized })
	info := org.Repo{FullName: repo, Name: repo[strings.IndexByte(repo, '/')+1:], CloneURL: last.CloneURL,
		DefaultBranch: last.DefaultBranch, Private: last.Private && !publicized}
	log := s.log.With("repo", repo)
	mirror, gh, err := s.credentials(ctx, jobs)
	if err != nil {
		return err
	}
	scanStart := s.now()
	dir, tips, err := mirror.Sync(ctx, info)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if missing := missingPushed(dir, jobs); len(missing) > 0 {
		for _, id := range s.fetchByID(ctx, mirror, info.CloneURL, dir, missing, log) {
			tips[pushedRef+id] = id
		}
	}
	prev, had, err := s.cfg.State.Get(repo)
	if err != nil {
		log.Warn("state unreadable; scanning whole", "err", err)
		had = false
	}
	full := slices.ContainsFunc(jobs, func(j Job) bool { return j.Kind == KindRepository }) ||
		!had && slices.ContainsFunc(jobs, func(j Job) bool { return j.Kind == KindReconcile })

	// What to scan. With a state, everything no previously scanned tip
	// reaches: the union of the pushed ranges, force pushes and new
	// branches included, and whatever a lost delivery hid. Without one,
	// each delivery's range as the Action plans it; the state is then
	// left for a reconcile's full scan to start.
	var plans []gitsource.Options
	advance := true
	switch {
	case len(tips) == 0:
	case full:
		plans = []gitsource.Options{{}}
	case had:
		if !maps.Equal(tips, prev.Tips) {
			plans = []gitsource.Options{{Exclude: slices.Sorted(maps.Values(prev.Tips))}}
		}
	default:
		advance = false
		for _, j := range jobs {
			o, describe, ok := planJob(dir, j)
			log.Info("scope", "kind", j.Kind, "scope", describe)
			if ok && !slices.ContainsFunc(plans, func(p gitsource.Options) bool { return p.Range == o.Range }) {
				plans = append(plans, o)
			}
		}
	}
	set := finding.NewSet()
	var skips atomic.Int64
	if len(plans) > 0 {
		gr, err := gitsource.Open(ctx, dir)
		if err != nil {
			return fmt.Errorf("open mirror: %w", err)
		}
		for _, o := range plans {
			// A push's few commits are read with go-git in process: a
			// git binary's start-up (shadow directory, cat-file, log) costs
			// more than they do, and the benchmark's p99 halved without
			// it. A whole history still goes through the git binary.
			o.NoGitBinary = s.cfg.NoGitBinary || !full
			res, err := gr.Scan(ctx, s.engine(func(finding.Skip) { skips.Add(1) }), o, set)
			if err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			skips.Add(int64(len(res.Skipped)))
		}
	}
	s.m.Scan.Observe(s.now().Sub(scanStart).Seconds())
	found := set.Findings()

	cfg := policyAt(dir, info.DefaultBranch, log.Warn)
	kept, allowed := cfg.Filter(found)
	for _, f := range kept {
		s.m.Findings.WithLabelValues(envLabel(f.Environment)).Inc()
	}
	log.Info("scanned", "plans", len(plans), "full", full, "findings", len(kept), "allowed", len(allowed), "skipped", skips.Load())
	if len(kept) > 0 {
		if err := s.respond(ctx, gh, info, cfg, kept); err != nil {
			return err
		}
	}
	if !advance {
		return nil
	}
	located := make([]finding.Finding, 0, len(found))
	for _, f := range found {
		g := f
		g.Locations = nil
		for _, l := range f.Locations {
			g.Locations = append(g.Locations, org.Located(repo, l))
		}
		located = append(located, g)
	}
	if had && !full {
		located = finding.Merge(prev.Findings, located)
	}
	if err := s.cfg.State.Put(repo, org.RepoState{Tips: tips, Findings: located, ScannedAt: s.now().UTC()}); err != nil {
		return err
	}
	return nil
}

// credentials are the mirror and GitHub client a batch uses: the fixed
// ones, or with a GitHub App those of the installation that sent the
// batch's latest delivery, with a token minted (or reused) for it. The
// token stays in memory; the mirror's copy is per batch.
func (s *Server) credentials(ctx context.Context, jobs []Job) (*org.Mirror, responder.GitHub, error) {
	if s.cfg.App == nil {
		return s.cfg.Mirror, s.cfg.GitHub, nil
	}
	var inst int64
	for _, j := range jobs {
		if j.Installation > 0 {
			inst = j.Installation
		}
	}
	if inst == 0 {
		return nil, nil, errors.New("no GitHub App installation known for the repository")
	}
	tok, err := s.cfg.App.Token(ctx, inst)
	if err != nil {
		return nil, nil, fmt.Errorf("installation token: %w", err)
	}
	gh, err := s.cfg.NewGitHub(tok)
	if err != nil {
		return nil, nil, fmt.Errorf("installation client: %w", err)
	}
	m := *s.cfg.Mirror
	m.Token = tok
	return &m, gh, nil
}

// pushedRef holds, in the mirror, a pushed commit fetched by its id
// because no ref of the server reached it any more. The next fetch prunes
// it (the server has no such ref); by then it was scanned.
const pushedRef = "refs/atomyx-guard/pushed/"

// missingPushed lists the pushed commits (a push's after, a pull
// request's head) the fetch did not bring: pushed over, or their branch
// deleted, between the push and the fetch.
func missingPushed(dir string, jobs []Job) []string {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, j := range jobs {
		id := j.After
		if j.Kind == KindPullRequest {
			id = j.Head
		}
		if j.Deleted || id == "" || strings.Trim(id, "0") == "" || slices.Contains(out, id) {
			continue
		}
		if repo.Storer.HasEncodedObject(plumbing.NewHash(id)) != nil {
			out = append(out, id)
		}
	}
	return out
}

// fetchByID asks the server for each commit by its id, which GitHub
// allows (and git with uploadpack.allowAnySHA1InWant): a key pushed and
// then pushed over within seconds was public for those seconds and is
// still answered. A server that refuses is logged: the scan then covers
// what the refs reach, and says so. It returns the ids fetched.
func (s *Server) fetchByID(ctx context.Context, m *org.Mirror, cloneURL, dir string, ids []string, log *slog.Logger) []string {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil
	}
	var auth transport.AuthMethod
	if u, err := url.Parse(cloneURL); err == nil && m.Token != "" && slices.Contains(m.TokenHosts, strings.ToLower(u.Hostname())) {
		auth = &githttp.BasicAuth{Username: "x-access-token", Password: m.Token}
	}
	remote := git.NewRemote(repo.Storer, &gitconfig.RemoteConfig{Name: "origin", URLs: []string{cloneURL}})
	var got []string
	for _, id := range ids {
		err := remote.FetchContext(ctx, &git.FetchOptions{
			RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec(id + ":" + pushedRef + id)},
			Auth:     auth, Tags: git.NoTags,
		})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			log.Warn("pushed commit gone from the server and not fetchable by id; scanning what the refs reach", "commit", short(id), "err", err)
			continue
		}
		log.Info("pushed commit fetched by id", "commit", short(id))
		got = append(got, id)
	}
	return got
}

// engine is one scan's engine, from the template.
func (s *Server) engine(onSkip func(finding.Skip)) *scanner.Engine {
	t := s.cfg.Engine
	if t == nil {
		t = &scanner.Engine{Workers: 1}
	}
	return &scanner.Engine{Detector: t.Detector, Workers: t.Workers, Expanders: t.Expanders, Limits: t.Limits, OnSkip: onSkip}
}

// planJob scopes one delivery of a repository with no state, as the
// Action plans a run (internal/ghaction): a push's before..after, a new
// branch against the default branch, a force push whose before is gone as
// everything, a deleted ref as nothing; a pull request's base..head. What
// cannot be planned (a pushed commit already gone) is scanned whole
// rather than skipped.
func planJob(dir string, j Job) (gitsource.Options, string, bool) {
	all := func(why string) (gitsource.Options, string, bool) {
		return gitsource.Options{}, why + ": everything", true
	}
	rng := func(a, b string) (gitsource.Options, string, bool) {
		return gitsource.Options{Range: a + ".." + b}, "commits " + short(a) + ".." + short(b), true
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return all("mirror unreadable")
	}
	has := func(id string) bool { return id != "" && repo.Storer.HasEncodedObject(plumbing.NewHash(id)) == nil }
	isZero := func(id string) bool { return id == "" || strings.Trim(id, "0") == "" }
	switch j.Kind {
	case KindPush:
		switch {
		case j.Deleted || isZero(j.After):
			return gitsource.Options{}, "deleted ref " + j.Ref + ": nothing", false
		case j.Before == j.After:
			return gitsource.Options{}, "nothing pushed", false
		case !has(j.After):
			return all("pushed commit " + short(j.After) + " not fetched (pushed over already)")
		case !isZero(j.Before) && has(j.Before):
			return rng(j.Before, j.After)
		}
		if j.DefaultBranch != "" && j.Ref != "refs/heads/"+j.DefaultBranch {
			if ref, err := repo.Reference(plumbing.NewBranchReferenceName(j.DefaultBranch), true); err == nil {
				if ref.Hash().String() == j.After {
					return gitsource.Options{}, "new ref holds nothing the default branch does not", false
				}
				return rng(ref.Hash().String(), j.After)
			}
		}
		return all("new ref or force push of " + j.Ref)
	case KindPullRequest:
		if !has(j.Head) || !has(j.Base) {
			return all(fmt.Sprintf("pull request #%d: base or head not fetched", j.Number))
		}
		if j.Base == j.Head {
			return gitsource.Options{}, "empty pull request", false
		}
		return rng(j.Base, j.Head)
	}
	return all(j.Kind)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// policyAt reads .atomyx-guard.toml from the default branch of the mirror
// at dir: the pushed commits never choose their own policy (a push could
// otherwise allowlist the key it leaks). No file, or an unreadable one,
// means the defaults, which respond.
func policyAt(dir, branch string, warn func(string, ...any)) *config.Config {
	data, err := readDefaultFile(dir, branch, config.FileName)
	if err != nil {
		warn("policy unreadable on the default branch; using the defaults", "err", err)
		return config.Default()
	}
	if data == nil {
		return config.Default()
	}
	cfg, err := config.Parse(data)
	if err != nil {
		warn("policy invalid on the default branch; using the defaults", "err", err)
		return config.Default()
	}
	return cfg
}

// readDefaultFile returns the file at name on branch (HEAD when empty) of
// the bare repository at dir; nil when the branch or the file is absent.
func readDefaultFile(dir, branch, name string) ([]byte, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil, err
	}
	refName := plumbing.HEAD
	if branch != "" {
		refName = plumbing.NewBranchReferenceName(branch)
	}
	ref, err := repo.Reference(refName, true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, err
	}
	f, err := c.File(name)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if f.Size > config.MaxSize {
		return nil, fmt.Errorf("%s larger than %d bytes", name, config.MaxSize)
	}
	r, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, config.MaxSize+1))
}

// respond runs the responder on one repository's live keys with the
// policy of its default branch. A public repository (or one just made
// public) gets every grace turned into "immediately" by the responder.
func (s *Server) respond(ctx context.Context, gh responder.GitHub, info org.Repo, cfg *config.Config, fs []finding.Finding) error {
	start := s.now()
	defer func() { s.m.Response.Observe(s.now().Sub(start).Seconds()) }()
	vis := "public"
	if info.Private {
		vis = "private"
	}
	issueRepo := cfg.IssueRepo
	if issueRepo == "" {
		issueRepo = info.FullName
	}
	rc := responder.Config{
		Vault: s.cfg.Vault, GitHub: gh, Journal: s.cfg.Journal,
		Policy:    cfg.Policy,
		IssueRepo: issueRepo, Labels: cfg.Labels,
		Repo: info.FullName, Visibility: vis, ServerURL: s.cfg.ServerURL,
		Recipient: s.cfg.Recipient, OwnFingerprints: s.cfg.OwnFingerprints,
	}
	if cfg.Recipient != "" {
		r, err := age.ParseX25519Recipient(cfg.Recipient)
		if err != nil {
			s.log.Warn("policy recipient unreadable; using the service's", "repo", info.FullName)
		} else {
			rc.Recipient = r
		}
	}
	r, err := responder.New(rc)
	if err != nil {
		return fmt.Errorf("respond: %w", err)
	}
	sum, err := r.Run(ctx, fs)
	for _, o := range sum.Outcomes {
		if o.State == responder.StateDone && (o.Action == journal.Revoke || o.Action == journal.Rotate) {
			s.m.Revoked.WithLabelValues(envLabel(o.Environment)).Inc()
		}
		s.log.Info("response", "repo", info.FullName, "incident", o.ID, "key", o.Redacted, "environment", o.Environment,
			"action", string(o.Action), "state", o.State, "reason", o.Reason, "issue", o.Issue)
	}
	if err != nil {
		return fmt.Errorf("respond: %w", err)
	}
	return nil
}
