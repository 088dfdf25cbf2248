package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/bundle"
	"github.com/atomyx/atomyx-guard/scanner/filesource"
)

// dirOptions scans files and directories as they are on disk.
type dirOptions struct {
	scanOptions
	Paths          []string
	FollowSymlinks bool
	FollowMaxBytes int64
	FollowMaxTime  time.Duration
}

func newDirCmd(sys *IO) *cobra.Command {
	o := &dirOptions{scanOptions: scanOptions{sys: sys}}
	cmd := &cobra.Command{
		Use:   "dir PATH...",
		Short: "Scan files and directories on disk, archives and bundles included",
		Long: `Scan files and directories as they are on disk: a checkout with its ignored
files, a build output, an unpacked artifact. Nothing is skipped for being
gitignored; .git directories are (use the git command for history).

Archives (zip, jar, whl, apk, docx..., tar, tgz, gz, bz2, zst, .br) and
bundles (JavaScript, CSS, HTML, source maps) are looked inside, within
bounds: a nesting depth, a number of expanded bytes and a compression ratio
per file. What a bound stops is reported as skipped, never dropped silently.

Paths in the report are relative to PATH when one directory is given, and
start with each PATH as given otherwise. Symlinks to files inside PATH are
read; symlinks to directories, and symlinks out of PATH, are followed only
with --follow-symlinks (each directory and each linked file once, within
--follow-max-bytes and --follow-max-time; where a budget stops the walk is
reported as skipped). Nothing under /proc, /sys or /dev, or on a kernel
file system mounted elsewhere, is ever read. FIFOs, devices and sockets
are reported as skipped.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			return o.run(cmd.Context())
		},
	}
	o.scanOptions.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&o.FollowSymlinks, "follow-symlinks", false, "enter symlinked directories and follow symlinks out of PATH (each directory and linked file once)")
	cmd.Flags().Int64Var(&o.FollowMaxBytes, "follow-max-bytes", filesource.DefaultFollowMaxBytes, "with --follow-symlinks: bytes of files read before the walk stops")
	cmd.Flags().DurationVar(&o.FollowMaxTime, "follow-max-time", filesource.DefaultFollowMaxTime, "with --follow-symlinks: how long the walk may run before it stops")
	return cmd
}

func (o *dirOptions) run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.FollowMaxBytes <= 0 || o.FollowMaxTime <= 0 {
		return fmt.Errorf("--follow-max-bytes and --follow-max-time must be positive")
	}
	src := &filesource.Source{Roots: o.Paths, Dir: o.sys.Getwd, FollowSymlinks: o.FollowSymlinks,
		MaxBytes: o.FollowMaxBytes, MaxTime: o.FollowMaxTime}
	cfg, err := o.configFor(o.configRoot())
	if err != nil {
		return err
	}
	run := o.newRun(fileBundles(src)).showProgress()
	run.envCheck = finding.EnvCheck{Content: fileContent(o.sys.Getwd), Roots: o.Paths}
	st, err := run.engine.Run(ctx, src, run.set)
	// Stopped by a signal or a failure: the report of what was found so
	// far is still written.
	run.failed(ctx, err)
	ws := src.Stats()
	var warnings []string
	if ws.GitDirs > 0 {
		warnings = append(warnings, fmt.Sprintf("%d .git director%s not scanned: run `atomyx-guard git` for history", ws.GitDirs, plural(ws.GitDirs, "y", "ies")))
	}
	if ws.LinkedDirs > 0 {
		warnings = append(warnings, fmt.Sprintf("%d symlinked director%s not followed (--follow-symlinks)", ws.LinkedDirs, plural(ws.LinkedDirs, "y", "ies")))
	}
	if ws.OutsideLinks > 0 {
		warnings = append(warnings, fmt.Sprintf("%d symlink%s out of the scanned directory not followed (--follow-symlinks)", ws.OutsideLinks, plural(ws.OutsideLinks, "", "s")))
	}
	if ws.Kernel > 0 {
		warnings = append(warnings, fmt.Sprintf("%d path%s on kernel file systems (/proc, /sys, /dev) never read", ws.Kernel, plural(ws.Kernel, "", "s")))
	}
	return run.finish(ctx, cfg, report.Stats{
		Files:   st.Items,
		Bytes:   st.Bytes,
		Partial: len(run.skipped) > 0,
	}, warnings)
}

// configRoot is where .atomyx-guard.toml is looked for: the one directory
// scanned, else the working directory.
func (o *dirOptions) configRoot() string {
	wd := o.sys.Getwd
	if wd == "" {
		wd = "."
	}
	if len(o.Paths) == 1 {
		p := o.Paths[0]
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
	}
	return wd
}

// fileBundles is the bundle expander of a directory scan: it reads source
// maps beside the bundles, inside the scanned directories.
func fileBundles(src *filesource.Source) *bundle.Expander {
	return &bundle.Expander{LoadMap: func(_ context.Context, it scanner.Item, ref string) ([]byte, error) {
		if it.Loc.Source != finding.SourceFile {
			return nil, fs.ErrNotExist
		}
		if i := strings.IndexAny(ref, "?#"); i >= 0 {
			ref = ref[:i]
		}
		return src.ReadRelative(it.Loc.Path, ref, bundle.MaxMapBytes)
	}}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
