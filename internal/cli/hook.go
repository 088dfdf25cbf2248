package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/atomyx/atomyx-guard/internal/hook"
	"github.com/spf13/cobra"
)

// hookOptions drive `atomyx-guard hook install|uninstall [PATH]`.
type hookOptions struct {
	sys       *IO
	path      string
	force     bool
	uninstall bool
}

func newHookCmd(sys *IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook",
		Short: "Install or remove the git pre-commit hook that runs `atomyx-guard git --staged`",
		Long: `Install or remove the git pre-commit hook that blocks a commit whose staged
changes hold an Atomyx API key.

The hook goes where git looks for hooks (core.hooksPath included). An existing
pre-commit hook is kept: it is renamed to pre-commit.atomyx-guard-chained and run
first; uninstall puts it back. Skip the hook once with 'git commit --no-verify'.
Under the pre-commit framework use the atomyx-guard hook of .pre-commit-hooks.yaml
instead (skip it with SKIP=atomyx-guard).`,
	}
	o := &hookOptions{sys: sys}
	install := &cobra.Command{
		Use:   "install [PATH]",
		Short: "Install the pre-commit hook into the repository at PATH (default .)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.path = hookArg(args, ".")
			return o.run(cmd.Context())
		},
	}
	install.Flags().BoolVar(&o.force, "force", false, "replace an existing pre-commit hook instead of chaining it")
	uninstall := &cobra.Command{
		Use:   "uninstall [PATH]",
		Short: "Remove atomyx-guard's pre-commit hook and restore a chained one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.path, o.uninstall = hookArg(args, "."), true
			return o.run(cmd.Context())
		},
	}
	cmd.AddCommand(install, uninstall)
	return cmd
}

func hookArg(args []string, def string) string {
	if len(args) > 0 {
		return args[0]
	}
	return def
}

func (o *hookOptions) run(ctx context.Context) error {
	dir := o.path
	if !filepath.IsAbs(dir) && o.sys.Getwd != "" {
		dir = filepath.Join(o.sys.Getwd, dir)
	}
	if o.uninstall {
		res, err := hook.Uninstall(ctx, dir)
		if err != nil {
			return err
		}
		if res.Chained != "" {
			fmt.Fprintf(o.sys.Out, "Removed atomyx-guard's pre-commit hook and restored the chained one at %s\n", res.Chained)
		} else {
			fmt.Fprintf(o.sys.Out, "Removed %s\n", res.Hook)
		}
		return nil
	}
	res, err := hook.Install(ctx, dir, hook.Options{Force: o.force})
	if err != nil {
		return err
	}
	switch {
	case res.Updated:
		fmt.Fprintf(o.sys.Out, "Updated %s\n", res.Hook)
	case res.Replaced:
		fmt.Fprintf(o.sys.Out, "Replaced the existing hook with %s\n", res.Hook)
	default:
		fmt.Fprintf(o.sys.Out, "Installed %s\n", res.Hook)
	}
	if res.Chained != "" {
		fmt.Fprintf(o.sys.Out, "The hook that was there runs first, from %s\n", res.Chained)
	}
	return nil
}
