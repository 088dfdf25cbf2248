package org

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/sourcegraph/conc/pool"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/gitsource"
)

// Scanner scans an organisation's repositories.
type Scanner struct {
	Client *github.Client
	Org    string
	Filter Filter
	Shard  Shard
	Mirror *Mirror
	// State remembers earlier runs; nil makes every run a full one that
	// remembers nothing.
	State *State
	// Full rescans every repository from scratch (and replaces what State
	// remembers of it).
	Full bool
	// RepoWorkers is how many repositories are fetched and scanned at
	// once (default 2); each scan runs Engine.Workers workers.
	RepoWorkers int
	// RepoTimeout bounds one repository's fetch and scan (0: none).
	RepoTimeout time.Duration
	// Engine is the template of every repository's engine: its Detector,
	// Workers, Expanders and Limits are used; OnSkip and Progress are not.
	Engine      *scanner.Engine
	NoGitBinary bool
	Progress    *Progress
}

// Result is a run's outcome: every finding known for the selected
// repositories (this run's and earlier runs'), and what this run read.
type Result struct {
	Findings   []finding.Finding
	NearMisses []finding.NearMiss
	Skipped    []finding.Skip
	Warnings   []string
	// Commits, Blobs and Bytes count what this run scanned.
	Commits, Blobs, Bytes int64
	Partial               bool
	// Listed repositories, Selected by filter and shard; of those,
	// Scanned (wholly or incrementally), Unchanged since the last run
	// (fetched, not scanned) and Failed.
	Listed, Selected, Scanned, Unchanged, Failed int
}

// Summary is the run in one line.
func (r *Result) Summary() string {
	return fmt.Sprintf("%d repositories listed, %d selected: %d scanned, %d unchanged, %d failed",
		r.Listed, r.Selected, r.Scanned, r.Unchanged, r.Failed)
}

// outcome is one repository's share of the result.
type outcome struct {
	findings  []finding.Finding
	near      []finding.NearMiss
	skipped   []finding.Skip
	warnings  []string
	res       gitsource.Result
	unchanged bool
	failed    bool
}

// Run lists, selects, fetches and scans. Only a failed listing (or a
// cancelled ctx) is an error; a repository that fails is a skip.
func (s *Scanner) Run(ctx context.Context) (*Result, error) {
	if err := s.Filter.Validate(); err != nil {
		return nil, err
	}
	repos, err := List(ctx, s.Client, s.Org)
	if err != nil {
		return nil, err
	}
	out := &Result{Listed: len(repos)}
	var sel []Repo
	seen := map[string]bool{} // a listing that shifted between pages repeats names
	for _, r := range repos {
		k := strings.ToLower(r.FullName)
		if !seen[k] && s.Filter.Keep(r) && s.Shard.Has(r.FullName) {
			seen[k] = true
			sel = append(sel, r)
		}
	}
	out.Selected = len(sel)
	s.Progress.start(len(sel))

	workers := s.RepoWorkers
	if workers < 1 {
		workers = 2
	}
	outcomes := make([]outcome, len(sel))
	p := pool.New().WithMaxGoroutines(workers)
	for i, r := range sel {
		if ctx.Err() != nil {
			break
		}
		p.Go(func() {
			outcomes[i] = s.one(ctx, r)
			s.Progress.finish(r.FullName)
		})
	}
	p.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	lists := make([][]finding.Finding, 0, len(outcomes))
	for _, o := range outcomes {
		lists = append(lists, o.findings)
		out.NearMisses = append(out.NearMisses, o.near...)
		out.Skipped = append(out.Skipped, o.skipped...)
		out.Warnings = append(out.Warnings, o.warnings...)
		out.Commits += o.res.Commits
		out.Blobs += o.res.Blobs
		out.Bytes += o.res.Bytes
		out.Partial = out.Partial || o.res.Partial || o.failed
		switch {
		case o.failed:
			out.Failed++
		case o.unchanged:
			out.Unchanged++
		default:
			out.Scanned++
		}
	}
	out.Findings = finding.Merge(lists...)
	slices.SortFunc(out.Skipped, func(a, b finding.Skip) int {
		return strings.Compare(a.Where+"\x00"+a.Reason, b.Where+"\x00"+b.Reason)
	})
	if out.Failed > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d of %d repositories could not be fetched or scanned; see the skipped list", out.Failed, out.Selected))
	}
	return out, nil
}

// one fetches and scans one repository. Findings from earlier runs are
// kept whatever happens to this one.
func (s *Scanner) one(parent context.Context, r Repo) (o outcome) {
	ctx := parent
	if s.RepoTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, s.RepoTimeout)
		defer cancel()
	}
	full := r.FullName
	fail := func(what string, err error) outcome {
		reason := what + ": " + err.Error()
		if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			reason = fmt.Sprintf("%s: timed out after %s", what, s.RepoTimeout)
		}
		o.skipped = append(o.skipped, finding.Skip{Where: "repository " + full, Reason: reason})
		o.failed = true
		return o
	}
	if err := checkName(s.Org, full); err != nil {
		return fail("list", err)
	}
	var prev RepoState
	had := false
	if s.State != nil {
		var err error
		if prev, had, err = s.State.Get(full); err != nil {
			o.warnings = append(o.warnings, err.Error()+"; scanning it whole")
			had = false
		}
	}
	o.findings = prev.Findings
	incremental := had && !s.Full

	s.Progress.phase(full, "fetching")
	dir, tips, err := s.Mirror.Sync(ctx, r)
	if err != nil {
		return fail("fetch", err)
	}
	if incremental && maps.Equal(tips, prev.Tips) {
		o.unchanged = true
		return o
	}
	opts := gitsource.Options{NoGitBinary: s.NoGitBinary}
	if incremental {
		for _, id := range prev.Tips {
			opts.Exclude = append(opts.Exclude, id)
		}
		slices.Sort(opts.Exclude)
		opts.Exclude = slices.Compact(opts.Exclude)
	}

	var found []finding.Finding
	if len(tips) > 0 { // an empty repository has nothing to scan
		s.Progress.phase(full, "scanning")
		repo, err := gitsource.Open(ctx, dir)
		if err != nil {
			return fail("open mirror", err)
		}
		sink := &repoSink{set: finding.NewSet(), repo: full}
		eng := s.engine(sink.skip)
		res, err := repo.Scan(ctx, eng, opts, sink)
		repo.Close() // one per repository: release its packs now
		if err != nil {
			return fail("scan", err)
		}
		o.res = res
		for _, sk := range res.Skipped {
			sink.skip(sk)
		}
		for _, w := range res.Warnings {
			o.warnings = append(o.warnings, full+": "+w)
		}
		o.skipped = append(o.skipped, sink.skips...)
		o.near = sink.near
		found = sink.set.Findings()
	}
	if incremental {
		found = finding.Merge(prev.Findings, found)
	}
	o.findings = found
	if s.State != nil {
		err := s.State.Put(full, RepoState{Tips: tips, Findings: found, ScannedAt: time.Now().UTC()})
		if err != nil {
			o.warnings = append(o.warnings, err.Error())
		}
	}
	return o
}

// engine is one repository's engine: the template's settings (an Engine
// holds no per-run state, so a copy is enough), with the repository's own
// skip handler and no progress callback.
func (s *Scanner) engine(onSkip func(finding.Skip)) *scanner.Engine {
	var e scanner.Engine
	if s.Engine != nil {
		e = *s.Engine
	}
	e.OnSkip, e.Progress = onSkip, nil
	return &e
}

// repoSink gathers one repository's findings with the repository in every
// location (Location.Repo).
type repoSink struct {
	set  *finding.Set
	repo string

	mu    sync.Mutex
	near  []finding.NearMiss
	skips []finding.Skip
}

// Located sets a location's repository, as org scans report it.
func Located(repo string, l finding.Location) finding.Location {
	l.Repo = repo
	return l
}

func (k *repoSink) Hit(h finding.Hit) {
	h.Location = Located(k.repo, h.Location)
	k.set.Add(h)
}

func (k *repoSink) NearMiss(n finding.NearMiss) {
	n.Location = Located(k.repo, n.Location)
	k.mu.Lock()
	k.near = append(k.near, n)
	k.mu.Unlock()
}

func (k *repoSink) skip(sk finding.Skip) {
	sk.Where = k.repo + ": " + sk.Where
	k.mu.Lock()
	k.skips = append(k.skips, sk)
	k.mu.Unlock()
}
