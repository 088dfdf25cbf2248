package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// responseFlags are the responder's settings, shared by `respond` and the
// scan commands' --respond.
type responseFlags struct {
	DryRun     bool
	Journal    string
	APIURL     string
	Repo       string
	Visibility string
	// IncidentDir receives the Markdown incident files written when no
	// GitHub issue can be opened; "incidents" beside the journal if empty.
	IncidentDir string
	// PlanOut receives a dry run's plan; stderr when nil, so that a scan's
	// report on stdout stays whole.
	PlanOut io.Writer
}

// respondOptions is `atomyx-guard respond --findings REPORT.json`.
type respondOptions struct {
	Findings   string
	ConfigPath string
	responseFlags

	sys *IO
}

func newRespondCmd(sys *IO) *cobra.Command {
	o := &respondOptions{sys: sys}
	cmd := &cobra.Command{
		Use:   "respond --findings REPORT.json",
		Short: "Rotate or revoke the live keys of a JSON report and open one GitHub issue per key",
		Long: `respond re-verifies every key of a JSON report with the Atomyx Vault (a
report's status may be stale), then, for each live key, does what the
policy of its environment says: rotate (reissue, deliver the replacement to
GitHub Actions secrets, verify it, revoke the leaked key), revoke, or report.
Each key gets one GitHub issue in issue_repo or GITHUB_REPOSITORY.

Without GITHUB_TOKEN (or without an issue repository) revocation and
reissue still happen, through the Vault alone: a replacement meant for a
GitHub secret is sealed to the configured age recipient instead (else the
key is revoked without one), and what the issue would have said is written
to a Markdown file in --incident-dir. A later run with a token opens the
issue once.

Every step is journaled: a run that was interrupted resumes where it
stopped, and runs on several machines converge on one replacement and one
issue. --dry-run prints the plan and changes nothing.

Needs ATOMYX_API_KEY (roles keys:verify, keys:revoke, keys:issue); and,
for issues and delivery, GITHUB_TOKEN (Issues: write; Secrets: write).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Findings, "findings", "", "the JSON report (`FILE`, - for stdin) of a scan")
	fs.StringVar(&o.ConfigPath, "config", "", "`PATH` of .atomyx-guard.toml (default: in the working directory)")
	o.responseFlags.addFlags(fs.StringVar, fs.BoolVar)
	cmd.MarkFlagRequired("findings")
	cmd.AddCommand(newRespondShowCmd(sys))
	return cmd
}

func (f *responseFlags) addFlags(str func(*string, string, string, string), boolean func(*bool, string, bool, string)) {
	boolean(&f.DryRun, "dry-run", false, "print the plan; change nothing (no Vault mutation, no GitHub write)")
	str(&f.Journal, "journal", "", "the responder's journal `PATH` (default: ATOMYX_GUARD_JOURNAL, else ~/.local/state/atomyx-guard/journal.db)")
	str(&f.APIURL, "api-url", "", "Atomyx Vault base `URL` (default: ATOMYX_API_URL, else "+vault.DefaultBaseURL+")")
	str(&f.Repo, "repo", "", "the GitHub repository (`OWNER/NAME`) the findings come from, for links and visibility (default: GITHUB_REPOSITORY)")
	str(&f.Visibility, "visibility", "", "the repository's visibility, private or public (default: ask GitHub; unknown counts as public)")
	str(&f.IncidentDir, "incident-dir", "", incidentDirUsage)
}

const incidentDirUsage = "`DIR` of the Markdown incident files written when no GitHub issue can be opened (default: incidents/ beside the journal)"

func (o *respondOptions) run(ctx context.Context) error {
	var (
		rep *report.Report
		err error
	)
	if o.Findings == "-" {
		rep, err = report.ReadJSON(o.sys.In)
	} else {
		var f *os.File
		if f, err = os.Open(o.path(o.Findings)); err == nil {
			rep, err = report.ReadJSON(f)
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("--findings: %w", err)
	}
	var cfg *config.Config
	if o.ConfigPath != "" {
		cfg, err = config.Load(o.path(o.ConfigPath))
	} else {
		cfg, err = config.LoadRoot(o.path("."))
	}
	if err != nil {
		return err
	}
	flags := o.responseFlags
	flags.PlanOut = o.sys.Out
	sum, err := respondFindings(ctx, o.sys, cfg, rep.Findings, flags)
	printSummary(o.sys.Out, sum)
	if err != nil {
		return err
	}
	return nil
}

func (o *respondOptions) path(p string) string {
	if filepath.IsAbs(p) || o.sys.Getwd == "" {
		return p
	}
	return filepath.Join(o.sys.Getwd, p)
}

func printSummary(w io.Writer, sum responder.Summary) {
	for _, oc := range sum.Outcomes {
		line := fmt.Sprintf("%s %s %s: %s", oc.ID, oc.Redacted, oc.Environment, oc.State)
		if oc.Action != "" && oc.State != responder.StateSkipped {
			line += " (" + string(oc.Action) + ")"
		}
		if oc.Reason != "" {
			line += ": " + oc.Reason
		}
		if oc.Issue != "" {
			line += " " + oc.Issue
		}
		fmt.Fprintln(w, line)
	}
}

// respondFindings runs the responder on findings with the configuration's
// policy: the work of `respond` and of the scan commands' --respond.
// Progress goes to sys.Err, and so does a dry run's plan unless
// f.PlanOut says otherwise.
func respondFindings(ctx context.Context, sys *IO, cfg *config.Config, fs []finding.Finding, f responseFlags) (responder.Summary, error) {
	vc, err := newVaultClient(sys, f.APIURL, "the keys:verify, keys:revoke and keys:issue roles")
	if err != nil {
		return responder.Summary{}, err
	}
	gcfg := ghapi.ConfigFromEnv(sys.env)
	gcfg.Sleep = sys.Sleep
	path := journalPath(sys, f.Journal)
	incidents := f.IncidentDir
	if incidents == "" {
		incidents = filepath.Join(filepath.Dir(path), "incidents")
	}
	// Without a token the Vault's part still runs: a live key must stop
	// working whether or not GitHub can be told.
	var gh responder.GitHub
	if gcfg.Token != "" {
		c, err := ghapi.New(gcfg)
		if err != nil {
			return responder.Summary{}, err
		}
		gh = c
	} else {
		fmt.Fprintf(sys.Err, "warning: GITHUB_TOKEN is not set: no GitHub issue is opened and no GitHub secret is written; incidents go to %s\n", incidents)
	}
	rcfg := responder.Config{
		Vault: vc, GitHub: gh, DryRun: f.DryRun, IncidentDir: incidents,
		IssueRepo: cfg.IssueRepository(sys.env), Labels: cfg.Labels,
		Repo: f.Repo, Visibility: f.Visibility, ServerURL: sys.env("GITHUB_SERVER_URL"),
		Policy: cfg.Policy,
		Out:    sys.Err,
		// Never act on the key this run is configured with.
		OwnFingerprints: ownFingerprints(sys),
	}
	if f.DryRun && f.PlanOut != nil {
		rcfg.Out = f.PlanOut
	}
	if rcfg.Repo == "" {
		rcfg.Repo = sys.env("GITHUB_REPOSITORY")
	}
	if cfg.Recipient != "" {
		r, err := age.ParseX25519Recipient(cfg.Recipient)
		if err != nil {
			return responder.Summary{}, fmt.Errorf("config: recipient: %w", err)
		}
		rcfg.Recipient = r
	}
	switch _, statErr := os.Stat(path); {
	case f.DryRun && statErr != nil:
		// Nothing journaled yet, and a dry run creates nothing.
	default:
		if !f.DryRun {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return responder.Summary{}, fmt.Errorf("journal: %w", err)
			}
		}
		j, err := journal.Open(path, journal.Options{Timeout: 5 * time.Minute, ReadOnly: f.DryRun})
		if err != nil {
			return responder.Summary{}, err
		}
		defer j.Close()
		rcfg.Journal = j
	}
	r, err := responder.New(rcfg)
	if err != nil {
		return responder.Summary{}, err
	}
	return r.Run(ctx, fs)
}

// newVaultClient builds the Vault client from --api-url and the
// environment; roles names what the key needs, for the error without one.
func newVaultClient(sys *IO, apiURL, roles string) (*vault.Client, error) {
	cfg := vault.Config{BaseURL: sys.env("ATOMYX_API_URL"), APIKey: sys.env("ATOMYX_API_KEY"), Sleep: sys.Sleep}
	if apiURL != "" {
		cfg.BaseURL = apiURL
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = vault.DefaultBaseURL
	}
	if cfg.APIKey == "" {
		return nil, fmt.Errorf("ATOMYX_API_KEY is not set (a key with %s)", roles)
	}
	return vault.New(cfg)
}

// journalPath is --journal, else ATOMYX_GUARD_JOURNAL, else the user's
// state directory.
func journalPath(sys *IO, flag string) string {
	if flag != "" {
		return flag
	}
	if p := sys.env("ATOMYX_GUARD_JOURNAL"); p != "" {
		return p
	}
	state := sys.env("XDG_STATE_HOME")
	if state == "" {
		home := sys.env("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		state = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(state, "atomyx-guard", "journal.db")
}

// respondShowOptions is `atomyx-guard respond show INCIDENT --identity FILE`.
type respondShowOptions struct {
	Incident string
	Identity string
	Journal  string

	sys *IO
}

func newRespondShowCmd(sys *IO) *cobra.Command {
	o := &respondShowOptions{sys: sys}
	cmd := &cobra.Command{
		Use:   "show INCIDENT",
		Short: "Show an incident; with --identity, open the replacement sealed to the operator",
		Long: `show prints what the journal knows of an incident (its id, inc-…, or the
key's fingerprint). When the replacement was sealed to the configured age
recipient, --identity FILE (an age identity file) opens it and prints it on
the last line: the only place atomyx-guard prints a whole key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Incident = args[0]
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.Identity, "identity", "", "age identity `FILE` that opens the sealed replacement")
	cmd.Flags().StringVar(&o.Journal, "journal", "", "the responder's journal `PATH`")
	return cmd
}

func (o *respondShowOptions) run(ctx context.Context) error {
	var ids []age.Identity
	if o.Identity != "" {
		f, err := os.Open(o.Identity)
		if err != nil {
			return fmt.Errorf("--identity: %w", err)
		}
		ids, err = age.ParseIdentities(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--identity %s: not an age identity file", o.Identity)
		}
	}
	path := journalPath(o.sys, o.Journal)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	j, err := journal.Open(path, journal.Options{ReadOnly: true, Timeout: time.Minute})
	if err != nil {
		return err
	}
	defer j.Close()
	if err := responder.Show(j, strings.TrimSpace(o.Incident), ids, o.sys.Out); err != nil {
		return err
	}
	return nil
}
