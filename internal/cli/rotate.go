package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/rotate"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// rotateOptions is `atomyx-guard rotate --org ORG`.
type rotateOptions struct {
	Org          string
	ConfigPath   string
	Plan         bool
	Apply        bool
	RevokeUnused bool
	Format       string
	Summary      string
	Journal      string
	APIURL       string
	Team         string
	Environment  string

	sys *IO
}

func newRotateCmd(sys *IO) *cobra.Command {
	o := &rotateOptions{sys: sys}
	cmd := &cobra.Command{
		Use:   "rotate --org ORG",
		Short: "Rotate keys older than the [rotate] policy allows; propose revoking unused ones",
		Long: `rotate lists every active key of an owner org in the Atomyx Vault, with its
age and last use, and compares them with the [rotate] policy of
.atomyx-guard.toml (max_age, warn_before, unused_after; per environment).

--plan (the default) prints what is due and changes nothing. --apply rotates
each due key whose delivery targets are known ([[rotate.keys]] deliver, or
where atomyx-guard delivered its previous replacement): reissue with a grace
for the old key, deliver to each GitHub Actions secret, verify the
replacement, and let the old key end (create, deploy, test, revoke). Every
step is journaled and every Vault call carries an Idempotency-Key derived
from the key id: a run killed half-way resumes, and runs at once make one
replacement. A due key with no known target is not touched: it gets one
GitHub issue, updated as it ages. Unused keys are proposed for revocation
and revoked only with --apply --revoke-unused.

Exit codes: 0 nothing due (or everything due was rotated), 1 keys are due,
due soon is not counted, or unused keys are proposed and left, 2 error.

Needs ATOMYX_API_KEY (keys:verify to plan; keys:issue and keys:revoke to
apply) and, to apply, GITHUB_TOKEN (Secrets: write; Issues: write).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Org, "org", "", "the owner `ORG` whose keys to inventory (required)")
	fs.StringVar(&o.ConfigPath, "config", "", "`PATH` of .atomyx-guard.toml (default: in the working directory)")
	fs.BoolVar(&o.Plan, "plan", false, "print what is due and change nothing (the default)")
	fs.BoolVar(&o.Apply, "apply", false, "rotate due keys with known sinks; open or update issues for the others")
	fs.BoolVar(&o.RevokeUnused, "revoke-unused", false, "with --apply: revoke keys unused for longer than unused_after")
	fs.StringVar(&o.Format, "format", "text", "output `FORMAT`: text, json or markdown")
	fs.StringVar(&o.Summary, "summary", "", "also append a Markdown summary to `FILE` (e.g. $GITHUB_STEP_SUMMARY)")
	fs.StringVar(&o.Journal, "journal", "", "the responder's journal `PATH` (default: ATOMYX_GUARD_JOURNAL, else ~/.local/state/atomyx-guard/journal.db)")
	fs.StringVar(&o.APIURL, "api-url", "", "Atomyx Vault base `URL` (default: ATOMYX_API_URL)")
	fs.StringVar(&o.Team, "team", "", "only keys of this owner `TEAM`")
	fs.StringVar(&o.Environment, "environment", "", "only keys of this `ENVIRONMENT`")
	cmd.MarkFlagRequired("org")
	return cmd
}

func (o *rotateOptions) path(p string) string {
	if filepath.IsAbs(p) || o.sys.Getwd == "" {
		return p
	}
	return filepath.Join(o.sys.Getwd, p)
}

func (o *rotateOptions) run(ctx context.Context) error {
	switch {
	case o.Plan && o.Apply:
		return errors.New("--plan and --apply exclude each other")
	case o.RevokeUnused && !o.Apply:
		return errors.New("--revoke-unused needs --apply")
	}
	switch o.Format {
	case "text", "json", "markdown":
	default:
		return fmt.Errorf("--format %q: want text, json or markdown", o.Format)
	}
	cp := o.ConfigPath
	if cp == "" {
		cp = config.FileName
	}
	cfg, err := config.Load(o.path(cp))
	if err != nil {
		return err
	}
	vc, err := newVaultClient(o.sys, o.APIURL, "the keys:verify role (keys:issue and keys:revoke to apply)")
	if err != nil {
		return err
	}
	ropts := rotate.Options{
		Org: o.Org, Policy: cfg.Rotate, Vault: vc,
		IssueRepo: cfg.IssueRepository(o.sys.env), Labels: cfg.Labels,
		Team: o.Team, Environment: o.Environment,
		Logf: func(format string, args ...any) { fmt.Fprintf(o.sys.Err, format+"\n", args...) },
	}
	if o.Apply {
		gcfg := ghapi.ConfigFromEnv(o.sys.env)
		if gcfg.Token == "" {
			return errors.New("GITHUB_TOKEN is not set (--apply needs Secrets: write to deliver and Issues: write)")
		}
		gh, err := ghapi.New(gcfg)
		if err != nil {
			return err
		}
		ropts.GitHub = gh
	}
	path := o.path(journalPath(o.sys, o.Journal))
	if _, statErr := os.Stat(path); o.Apply || statErr == nil {
		if o.Apply {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		// A plan reads the journal (where earlier replacements went)
		// without writing to it.
		j, err := journal.Open(path, journal.Options{Timeout: 5 * time.Minute, ReadOnly: !o.Apply})
		if err != nil {
			return err
		}
		defer j.Close()
		ropts.Journal = j
	}
	r, err := rotate.New(ropts)
	if err != nil {
		return err
	}
	plan, err := r.Plan(ctx, o.RevokeUnused)
	if err != nil {
		return err
	}
	var applyErr error
	if o.Apply {
		applyErr = r.Apply(ctx, plan, o.RevokeUnused)
	}
	if err := o.write(o.sys.Out, plan, o.Format); err != nil {
		return err
	}
	if o.Summary != "" {
		f, err := os.OpenFile(o.path(o.Summary), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("--summary: %w", err)
		}
		err = errors.Join(plan.WriteMarkdown(f), f.Close())
		if err != nil {
			return fmt.Errorf("--summary: %w", err)
		}
	}
	if applyErr != nil {
		return applyErr
	}
	if outstanding(plan) > 0 {
		return leaks(ExitLeaks)
	}
	return nil
}

func (o *rotateOptions) write(w io.Writer, p *rotate.Plan, format string) error {
	switch format {
	case "json":
		return p.WriteJSON(w)
	case "markdown":
		return p.WriteMarkdown(w)
	}
	return p.WriteText(w)
}

// outstanding counts what still needs someone: due keys not rotated by
// this run (a plan, or no known sink) and unused keys left in place.
func outstanding(p *rotate.Plan) int {
	n := 0
	for _, it := range p.Items {
		switch it.Action {
		case rotate.ActionRotate:
			if it.Result != rotate.ResultDone && it.Result != rotate.ResultUnchanged {
				n++
			}
		case rotate.ActionReport:
			n++
		case rotate.ActionRevokeUnused:
			if it.Result != rotate.ResultDone {
				n++
			}
		}
	}
	return n
}
