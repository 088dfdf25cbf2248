package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
start with each PATH as given otherwise. Symlinks to files are read;
symlinks to directories are followed only with --follow-symlinks (each
directory once). FIFOs, devices and sockets are reported as skipped.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			return o.run(cmd.Context())
		},
	}
	o.scanOptions.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&o.FollowSymlinks, "follow-symlinks", false, "enter symlinked directories (each directory once)")
	return cmd
}

func (o *dirOptions) run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	src := &filesource.Source{Roots: o.Paths, Dir: o.sys.Getwd, FollowSymlinks: o.FollowSymlinks}
	cfg, err := o.configFor(o.configRoot())
	if err != nil {
		return err
	}
	run := o.newRun(fileBundles(src))
	st, err := run.engine.Run(ctx, src, run.set)
	if err != nil {
		if run.prog != nil {
			run.prog.stop()
		}
		return err
	}
	ws := src.Stats()
	var warnings []string
	if ws.GitDirs > 0 {
		warnings = append(warnings, fmt.Sprintf("%d .git director%s not scanned: run `atomyx-guard git` for history", ws.GitDirs, plural(ws.GitDirs, "y", "ies")))
	}
	if ws.LinkedDirs > 0 {
		warnings = append(warnings, fmt.Sprintf("%d symlinked director%s not followed (--follow-symlinks)", ws.LinkedDirs, plural(ws.LinkedDirs, "y", "ies")))
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
