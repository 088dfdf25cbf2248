package cli

import (
	"fmt"

	"github.com/spf13/cobra"

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
		return withCode(ExitError, fmt.Errorf("--range, --staged and --since-commit exclude each other"))
	}
	ctx := cmd.Context()
	repo, err := gitsource.Open(ctx, o.Path)
	if err != nil {
		return withCode(ExitError, err)
	}
	root := repo.WorkTree
	if root == "" {
		root = repo.GitDir
	}
	o.messageFile = commitfile.Resolver(ctx, root)
	cfg, err := o.configFor(root)
	if err != nil {
		return err
	}
	run := o.newRun()
	res, err := repo.Scan(ctx, run.engine, gitsource.Options{
		Reflog:      o.Reflog,
		Range:       o.Range,
		Staged:      o.Staged,
		IndexFile:   o.sys.env("GIT_INDEX_FILE"),
		SinceCommit: o.SinceCommit,
		NoGitBinary: o.NoGitBinary,
	}, run.set)
	if err != nil {
		if run.prog != nil {
			run.prog.stop()
		}
		return withCode(ExitError, fmt.Errorf("scan %s: %w", o.Path, err))
	}
	run.skipped = append(run.skipped, res.Skipped...)
	err = run.finish(ctx, cfg, report.Stats{
		Commits: res.Commits,
		Blobs:   res.Blobs,
		Bytes:   res.Bytes,
		Partial: res.Partial,
	}, res.Warnings)
	if o.Staged && o.Format == "text" {
		// A blocked commit says where, and the ways on (hook.BlockedAdvice).
		if kept, _ := cfg.Filter(run.set.Findings()); o.failing(kept) > 0 {
			_ = hook.BlockedAdvice(o.sys.Err, kept)
		}
	}
	return err
}
