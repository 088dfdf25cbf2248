package cli

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/hook"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/report/commitfile"
	"github.com/atomyx/atomyx-guard/scanner/gitsource"
)

// gitOptions scans a repository's history, a range, or its staged changes.
type gitOptions struct {
	scanOptions
	Path        string
	Reflog      bool
	Range       string
	Staged      bool
	SinceCommit string
	NoGitBinary bool
	Alternates  bool
}

func newGitCmd(sys *IO) *cobra.Command {
	o := &gitOptions{scanOptions: scanOptions{sys: sys}}
	cmd := &cobra.Command{
		Use:   "git [PATH]",
		Short: "Scan every blob, commit and tag message reachable from every ref",
		Long: `Scan a git repository (a work tree or a bare repository; PATH defaults to ".").

By default everything reachable from every ref is scanned: branches, tags,
remote-tracking refs, stashes, notes, pull refs and a detached HEAD, each
unique blob once, plus commit and tag messages. Each finding says where the
key entered: the commits that first put it at each path.

--range A..B scans what the commits in B and not in A introduce (a pull
request); --staged scans what the index would commit (the pre-commit hook);
--since-commit SHA scans commits not reachable from SHA.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = "."
			if len(args) == 1 {
				o.Path = args[0]
			}
			return o.run(cmd)
		},
	}
	o.addFlags(cmd.Flags())
	fs := cmd.Flags()
	fs.BoolVar(&o.Reflog, "reflog", false, "also scan commits only the reflogs reach")
	fs.StringVar(&o.Range, "range", "", "scan only what the commits in `A..B` introduce")
	fs.BoolVar(&o.Staged, "staged", false, "scan what the index would commit (honours GIT_INDEX_FILE)")
	fs.StringVar(&o.SinceCommit, "since-commit", "", "scan only commits not reachable from `SHA`")
	fs.BoolVar(&o.NoGitBinary, "no-git-binary", false, "read objects with go-git only, even where a git binary exists")
	fs.BoolVar(&o.Alternates, "alternates", false, "also read the object stores objects/info/alternates names (outside the repository)")
	return cmd
}

func (o *gitOptions) run(cmd *cobra.Command) error {
	if err := o.validate(); err != nil {
		return err
	}
	modes := 0
	for _, on := range []bool{o.Range != "", o.Staged, o.SinceCommit != ""} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return fmt.Errorf("--range, --staged and --since-commit exclude each other")
	}
	if o.Staged && o.sys.env("GOGC") == "" {
		defer hookGC()()
	}
	ctx := cmd.Context()
	repo, err := gitsource.Open(ctx, o.Path)
	if err != nil {
		return err
	}
	defer repo.Close()
	root := repo.WorkTree
	if root == "" {
		root = repo.GitDir
	}
	o.messageFile = commitfile.Resolver(ctx, root)
	cfg, trustNotes, err := o.config(ctx, repo, root)
	if err != nil {
		return err
	}
	run := o.newRun(nil).showProgress()
	if base, _, ok := rangeEnds(o.Range); ok {
		run.adjust = baseMarkers(repo, base)
	}
	run.envCheck = finding.EnvCheck{Content: gitContent(ctx, repo.GitDir)}
	res, err := repo.Scan(ctx, run.engine, gitsource.Options{
		Reflog:      o.Reflog,
		Range:       o.Range,
		Staged:      o.Staged,
		IndexFile:   o.sys.env("GIT_INDEX_FILE"),
		SinceCommit: o.SinceCommit,
		NoGitBinary: o.NoGitBinary,
		Alternates:  o.Alternates,
	}, run.set)
	if errors.Is(err, gitsource.ErrNothingReadable) {
		// Nothing readable: the report still says what was skipped, and
		// the exit is 2, never "clean".
		run.stop = fmt.Errorf("scan %s: %w", o.Path, err)
	} else if err != nil {
		run.failed(ctx, fmt.Errorf("scan %s: %w", o.Path, err))
	}
	run.skipped = append(run.skipped, res.Skipped...)
	err = run.finish(ctx, cfg, report.Stats{
		Commits: res.Commits,
		Blobs:   res.Blobs,
		Bytes:   res.Bytes,
		Partial: res.Partial,
	}, append(trustNotes, res.Warnings...))
	if o.Staged && o.Format == "text" {
		// The staged scan trusts the work tree's configuration and
		// markers: it runs on the developer's own machine, over their own
		// change, and gates nobody else's.
		// A blocked commit says where, and the ways on (hook.BlockedAdvice).
		if kept, _ := cfg.Filter(run.set.Findings()); o.failing(kept) {
			_ = hook.BlockedAdvice(o.sys.Err, kept)
		}
	}
	return err
}

// hookGC collects garbage less often for a staged scan (the pre-commit
// hook), whose heap is the few megabytes of a staged change: the two
// collections the default GOGC made cost a sixth of a 200-file hook's
// wall time. Above 128 MiB (a large file staged) the runtime collects as
// usual again. It returns what restores the settings; a GOGC the user set
// is left alone.
func hookGC() (restore func()) {
	percent := debug.SetGCPercent(400)
	limit := debug.SetMemoryLimit(128 << 20)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

// config is the allowlist and policy of the scan. For a range it is the
// base commit's file, never the change's own (see trust.go), unless
// --config names one; otherwise the file at root. The warnings say when
// the change modifies the file.
func (o *gitOptions) config(ctx context.Context, repo *gitsource.Repo, root string) (*config.Config, []string, error) {
	base, head, ok := rangeEnds(o.Range)
	if !ok || o.ConfigPath != "" {
		cfg, err := o.configFor(root)
		return cfg, nil, err
	}
	return baseConfig(ctx, repo, base, head)
}
