package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/ghaction"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/gitsource"
)

// actionOptions is `atomyx-guard action`: the GitHub Action's entry point.
type actionOptions struct{ sys *IO }

func newActionCmd(sys *IO) *cobra.Command {
	o := &actionOptions{sys: sys}
	return &cobra.Command{
		Use:   "action",
		Short: "Run as the GitHub Action: scan what the workflow's event brings, annotate, summarise",
		Long: `Run inside a GitHub Actions job (action.yml calls it). Reads GITHUB_EVENT_NAME,
GITHUB_EVENT_PATH, GITHUB_WORKSPACE, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, and
the inputs as INPUT_PATH, INPUT_FAIL_ON, INPUT_VERIFY, INPUT_RESPOND,
INPUT_VAULT_URL and INPUT_SARIF_FILE. Secrets come from ATOMYX_API_KEY and
GITHUB_TOKEN only. See docs/github-action.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
}

func (o *actionOptions) run(ctx context.Context) error {
	cfg, err := ghaction.ConfigFromEnv(o.sys.env)
	if err != nil {
		fmt.Fprintln(o.sys.Out, ghaction.Annotation{Level: "error", Title: "atomyx-guard", Message: err.Error()})
		return err
	}
	return ghaction.Run(ctx, cfg, &actionScanner{sys: o.sys}, o.sys.Out)
}

// actionScanner is the action's scan: the same pieces as `atomyx-guard
// git` (gitsource, the configuration's allowlist, Vault verification and
// the responder), returning the report instead of writing it.
type actionScanner struct{ sys *IO }

func (s *actionScanner) Scan(ctx context.Context, req ghaction.Request) (*report.Report, error) {
	repo, err := gitsource.Open(ctx, req.Dir)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	root := repo.WorkTree
	if root == "" {
		root = repo.GitDir
	}
	so := &scanOptions{sys: s.sys, Workers: runtime.NumCPU(), NoProgress: true,
		Verify: req.Verify || req.Respond, Respond: req.Respond, APIURL: req.VaultURL}
	var (
		cfg   *config.Config
		notes []string
	)
	switch {
	case !req.All:
		// A range gates a change: the base's policy (trust.go).
		cfg, notes, err = baseConfig(ctx, repo, req.Base, req.Head)
	case req.Untrusted:
		// The change under review, with no base to trust: nothing it
		// brings may allow a key.
		cfg = config.Default()
		notes = []string{fmt.Sprintf("The base commit is not in the checkout, so neither its %s nor the change's was used: "+
			"no allowlist and no inline %s marker applies to this scan", config.FileName, scanner.AllowMarker)}
	default:
		cfg, err = so.configFor(root)
	}
	if err != nil {
		return nil, err
	}
	run := so.newRun(nil)
	var opts gitsource.Options
	switch {
	case !req.All:
		opts.Range = req.Base + ".." + req.Head
		run.adjust = baseMarkers(repo, req.Base)
	case req.Untrusted:
		run.adjust = noMarkers
	}
	res, err := repo.Scan(ctx, run.engine, opts, run.set)
	// Stopped half-way (a signal, a failure): what was found so far is
	// still reported, and the run exits 2 (130 after SIGINT).
	run.failed(ctx, err)
	run.skipped = append(run.skipped, res.Skipped...)
	// As `git` does: an incomplete verification or response still gives
	// the report, and the error that makes the run exit 2.
	return run.report(ctx, cfg, report.Stats{Commits: res.Commits, Blobs: res.Blobs, Bytes: res.Bytes, Partial: res.Partial}, append(notes, res.Warnings...))
}
