package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/scanner/filesource"
)

// stdinOptions scans standard input.
type stdinOptions struct {
	scanOptions
	Name string
}

func newStdinCmd(sys *IO) *cobra.Command {
	o := &stdinOptions{scanOptions: scanOptions{sys: sys}}
	cmd := &cobra.Command{
		Use:   "stdin",
		Short: "Scan standard input (a pipe, an archive, a log)",
		Long: `Scan standard input as one stream, in bounded memory whatever its size.

Archives are recognised by their first bytes (cat pkg.tgz | atomyx-guard
stdin); --name labels the input in the report and lets formats that have no
magic number be recognised by name (--name bundle.js.br, --name app.js.map).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context()) },
	}
	o.scanOptions.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.Name, "name", "", "label of the input in the report, also used to recognise its format")
	return cmd
}

func (o *stdinOptions) run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	root := o.sys.Getwd
	if root == "" {
		root = "."
	}
	cfg, err := o.configFor(root)
	if err != nil {
		return err
	}
	run := o.newRun(nil).showProgress()
	// A pipe nobody closes must not outlive a signal.
	in := newCtxReader(ctx, o.sys.In)
	st, err := run.engine.Run(ctx, &filesource.Stdin{R: in, Name: o.Name}, run.set)
	run.failed(ctx, err)
	if err == nil && st.Bytes == 0 && len(run.skipped) > 0 {
		// The one input could not be read at all.
		run.stop = fmt.Errorf("standard input: %s", run.skipped[0].Reason)
	}
	return run.finish(ctx, cfg, report.Stats{
		Files:   st.Items,
		Bytes:   st.Bytes,
		Partial: len(run.skipped) > 0,
	}, nil)
}
