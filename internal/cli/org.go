package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/org"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/responder"
)

// orgOptions scans every repository of a GitHub organisation, incrementally.
type orgOptions struct {
	scanOptions
	Org             string
	Cache           string
	Full            bool
	Shard           string
	RepoWorkers     int
	RepoTimeout     time.Duration
	IncludeForks    bool
	IncludeArchived bool
	Match, Exclude  []string
	GitHubAPIURL    string
	NoGitBinary     bool
}

func newOrgCmd(sys *IO) *cobra.Command {
	o := &orgOptions{scanOptions: scanOptions{sys: sys}}
	cmd := &cobra.Command{
		Use:   "org ORG",
		Short: "Scan every repository of a GitHub organisation, incrementally, in shards",
		Long: `Scan the history of every repository of a GitHub organisation.

The repositories are listed with GITHUB_TOKEN (GITHUB_API_URL for GitHub
Enterprise), mirrored as bare repositories under --cache and scanned like
"atomyx-guard git" does. A state database in the cache remembers what was
scanned: the next run fetches every repository but scans only new commits,
and still reports every key found before. --full rescans everything.

--shard K/N (K from 1 to N) takes a stable share of the repositories, so
that N machines split an organisation; "atomyx-guard merge" combines their
JSON reports. Locations name their repository: "repo": "OWNER/NAME".

A repository that cannot be fetched or scanned is listed under skipped and
the others go on; the exit code is 2 only when none could be.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Org = args[0]
			return o.run(cmd.Context())
		},
	}
	o.addFlags(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&o.Cache, "cache", "", "`DIR` of the mirrors and the state (default: the user cache dir's atomyx-guard/org/ORG)")
	fs.BoolVar(&o.Full, "full", false, "rescan every repository from scratch")
	fs.StringVar(&o.Shard, "shard", "", "scan only shard `K/N` of the repositories (K from 1 to N)")
	fs.IntVar(&o.RepoWorkers, "repo-workers", 2, "repositories fetched and scanned at once")
	fs.DurationVar(&o.RepoTimeout, "repo-timeout", 30*time.Minute, "give up on one repository's fetch and scan after this long (0: never)")
	fs.BoolVar(&o.IncludeForks, "include-forks", false, "also scan forks")
	fs.BoolVar(&o.IncludeArchived, "include-archived", false, "also scan archived repositories")
	fs.StringArrayVar(&o.Match, "match", nil, "scan only repositories whose name matches `GLOB` (repeatable)")
	fs.StringArrayVar(&o.Exclude, "exclude", nil, "skip repositories whose name matches `GLOB` (repeatable)")
	fs.StringVar(&o.GitHubAPIURL, "github-api-url", "", "GitHub REST API `URL` (default: GITHUB_API_URL, else "+ghapi.DefaultBaseURL+")")
	fs.BoolVar(&o.NoGitBinary, "no-git-binary", false, "fetch mirrors and read objects with go-git only, even where a git binary exists")
	return cmd
}

func (o *orgOptions) run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.Response.Repo != "" {
		return fmt.Errorf("--repo does not apply to org scans: each key's repository is the one it was found in")
	}
	o.respond = respondPerRepository
	shard, err := org.ParseShard(o.Shard)
	if err != nil {
		return err
	}
	if o.RepoWorkers < 1 {
		return fmt.Errorf("--repo-workers must be at least 1")
	}
	if o.RepoTimeout < 0 {
		return fmt.Errorf("--repo-timeout must not be negative")
	}
	filter := org.Filter{IncludeForks: o.IncludeForks, IncludeArchived: o.IncludeArchived, Match: o.Match, Exclude: o.Exclude}
	if err := filter.Validate(); err != nil {
		return err
	}
	ghCfg := ghapi.ConfigFromEnv(o.sys.env)
	ghCfg.Sleep = o.sys.Sleep
	if o.GitHubAPIURL != "" {
		ghCfg.BaseURL = o.GitHubAPIURL
	}
	if ghCfg.BaseURL == "" {
		ghCfg.BaseURL = ghapi.DefaultBaseURL
	}
	gh, err := ghapi.New(ghCfg)
	if err != nil {
		return err
	}
	cache, err := o.cacheDir()
	if err != nil {
		return err
	}
	wd := o.sys.Getwd
	if wd == "" {
		wd = "."
	}
	cfg, err := o.configFor(wd)
	if err != nil {
		return err
	}
	state, err := org.OpenState(filepath.Join(cache, "state.db"))
	if err != nil {
		return err
	}
	defer state.Close()

	// The org scan draws its own status line (repositories, not objects).
	run := o.newRun(nil)
	s := &org.Scanner{
		Client: gh.GitHub(), Org: o.Org, Filter: filter, Shard: shard,
		Mirror: &org.Mirror{Dir: filepath.Join(cache, "repos"), Token: ghCfg.Token, TokenHosts: org.TokenHosts(ghCfg.BaseURL),
			NoGitBinary: o.NoGitBinary},
		State:       state,
		Full:        o.Full,
		RepoWorkers: o.RepoWorkers, RepoTimeout: o.RepoTimeout,
		Engine:      run.engine,
		NoGitBinary: o.NoGitBinary,
	}
	var stopLine func()
	if o.wantsProgress() {
		s.Progress = &org.Progress{}
		stopLine = statusLine(o.sys.Err, s.Progress.Line)
	}
	res, err := s.Run(ctx)
	if stopLine != nil {
		stopLine()
	}
	if err != nil {
		return err
	}
	for _, f := range res.Findings {
		for _, l := range f.Locations {
			run.set.Add(finding.Hit{Fingerprint: f.Fingerprint, Redacted: f.Redacted, Environment: f.Environment, Location: l})
		}
	}
	for _, n := range res.NearMisses {
		run.set.AddNearMiss(n)
	}
	run.skipped = append(run.skipped, res.Skipped...)
	fmt.Fprintf(o.sys.Err, "atomyx-guard: org %s (shard %s): %s\n", o.Org, shard, res.Summary())
	warnings := res.Warnings
	if res.Selected == 0 {
		warnings = append(warnings, fmt.Sprintf("no repository of %s selected (%d listed; filters and shard %s)", o.Org, res.Listed, shard))
	}
	err = run.finish(ctx, cfg, report.Stats{
		Commits: res.Commits,
		Blobs:   res.Blobs,
		Bytes:   res.Bytes,
		Partial: res.Partial,
	}, warnings)
	if res.Selected > 0 && res.Failed == res.Selected {
		return fmt.Errorf("none of the %d repositories could be fetched or scanned", res.Selected)
	}
	return err
}

// cacheDir is --cache, or the user cache directory's
// atomyx-guard/org/ORG.
func (o *orgOptions) cacheDir() (string, error) {
	if o.Cache != "" {
		if filepath.IsAbs(o.Cache) || o.sys.Getwd == "" {
			return o.Cache, nil
		}
		return filepath.Join(o.sys.Getwd, o.Cache), nil
	}
	if strings.ContainsAny(o.Org, `/\`) || o.Org == "." || o.Org == ".." {
		return "", fmt.Errorf("organisation %q: not a GitHub login", o.Org)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (%w); pass --cache", err)
	}
	return filepath.Join(base, "atomyx-guard", "org", o.Org), nil
}

// respondPerRepository runs the responder once per repository of an org
// report, so that links, visibility (public or private: how fast the old
// key is revoked) and the title are those of the repository where
// each key was found (Location.Repo). A key found in several repositories is handled with the
// first (by name); the later runs see it revoked and leave it.
func respondPerRepository(ctx context.Context, sys *IO, cfg *config.Config, fs []finding.Finding, flags responseFlags) (responder.Summary, error) {
	byRepo := map[string][]finding.Finding{}
	for _, f := range fs {
		parts := map[string][]finding.Location{}
		for _, l := range f.Locations {
			parts[l.Repo] = append(parts[l.Repo], l)
		}
		for repo, locs := range parts {
			g := f
			g.Locations = locs
			byRepo[repo] = append(byRepo[repo], g)
		}
	}
	var (
		sum  responder.Summary
		errs []error
	)
	for _, repo := range slices.Sorted(maps.Keys(byRepo)) {
		fl := flags
		fl.Repo = repo
		s, err := respondFindings(ctx, sys, cfg, byRepo[repo], fl)
		sum.Outcomes = append(sum.Outcomes, s.Outcomes...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", repo, err))
		}
	}
	return sum, errors.Join(errs...)
}
