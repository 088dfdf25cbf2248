package cli

import (
	"context"
	"fmt"
	"github.com/atomyx/atomyx-guard/patterns"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/version"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/archive"
	"github.com/atomyx/atomyx-guard/scanner/bundle"
	"github.com/atomyx/atomyx-guard/scanner/document"
)

// scanOptions are the flags every scan command shares: output, exit code,
// concurrency, verification and response.
type scanOptions struct {
	Format     string
	ReportPath string
	ExitCode   int
	Workers    int
	NearMisses bool
	Verbose    bool
	ConfigPath string
	NoProgress bool
	Verify     bool
	FailOn     report.FailOn
	APIURL     string
	Respond    bool
	Response   responseFlags
	Expand     expandOptions

	// respond runs the responder on the findings; respondFindings unless
	// a command needs another shape (org: one response per repository).
	respond func(ctx context.Context, sys *IO, cfg *config.Config, fs []finding.Finding, f responseFlags) (responder.Summary, error)

	sys *IO

	// messageFile places SARIF results for commit and tag messages on a
	// file (report.ToolInfo.MessageFile); git scans set it.
	messageFile func(finding.Location) string
}

func (o *scanOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Format, "format", "f", "text", "output format: text, json, sarif or html")
	fs.StringVar(&o.ReportPath, "report", "", "write the report to `FILE` instead of stdout")
	fs.IntVar(&o.ExitCode, "exit-code", ExitLeaks, "exit code when leaks are found")
	fs.IntVar(&o.Workers, "workers", runtime.NumCPU(), "concurrent scanners")
	fs.BoolVar(&o.NearMisses, "show-near-misses", false, "also list key-shaped strings whose checksum fails (never findings)")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "more detail in text output")
	fs.StringVar(&o.ConfigPath, "config", "", "`PATH` of .atomyx-guard.toml (default: at the scan root)")
	fs.BoolVar(&o.NoProgress, "no-progress", false, "no progress line on a terminal")
	fs.BoolVar(&o.Verify, "verify", false, "ask the Atomyx Vault, by fingerprint, whether each key is live (ATOMYX_API_KEY needs keys:verify)")
	fs.StringVar((*string)(&o.FailOn), "fail-on", "", "which findings fail the scan: any, active or never (default: active with --verify, else any)")
	o.Expand.addFlags(fs)
	fs.BoolVar(&o.Respond, "respond", false, "rotate, revoke or report each live key by the policy in .atomyx-guard.toml (implies --verify)")
	fs.BoolVar(&o.Response.DryRun, "dry-run", false, "with --respond: print the plan, change nothing")
	fs.StringVar(&o.Response.Journal, "journal", "", "with --respond: the responder's journal `PATH` (default: ATOMYX_GUARD_JOURNAL, else ~/.local/state/atomyx-guard/journal.db)")
	fs.StringVar(&o.Response.Repo, "repo", "", "with --respond: the GitHub repository (`OWNER/NAME`) scanned, for links and visibility (default: GITHUB_REPOSITORY)")
	fs.StringVar(&o.Response.Visibility, "visibility", "", "with --respond: private or public (default: ask GitHub; unknown counts as public)")
	fs.StringVar(&o.Response.IncidentDir, "incident-dir", "", "with --respond: "+incidentDirUsage)
	fs.StringVar(&o.APIURL, "api-url", "", "Atomyx Vault base `URL` (default: ATOMYX_API_URL, else "+vault.DefaultBaseURL+")")
}

func (o *scanOptions) validate() error {
	switch o.Format {
	case "text", "json", "sarif", "html":
	default:
		return fmt.Errorf("unknown --format %q (want text, json, sarif or html)", o.Format)
	}
	if o.Respond {
		o.Verify = true
	}
	if o.Response.DryRun && !o.Respond {
		return fmt.Errorf("--dry-run needs --respond")
	}
	if o.FailOn == "" {
		o.FailOn = report.FailAny
		if o.Verify {
			o.FailOn = report.FailActive
		}
	}
	if _, err := report.ParseFailOn(string(o.FailOn)); err != nil {
		return fmt.Errorf("unknown --fail-on %q (want any, active or never)", o.FailOn)
	}
	if o.FailOn == report.FailActive && !o.Verify {
		return fmt.Errorf("--fail-on active needs --verify")
	}
	if err := o.Expand.validate(); err != nil {
		return err
	}
	if o.Workers < 1 {
		return fmt.Errorf("--workers must be at least 1")
	}
	return nil
}

// scanRun is one scan in progress: the engine, the findings it gathers and
// what it skipped.
type scanRun struct {
	opts    *scanOptions
	set     *finding.Set
	engine  *scanner.Engine
	skipped []finding.Skip
	start   time.Time
	prog    *progress
	// envCheck reads the places of the scan for the environment check.
	envCheck finding.EnvCheck
	// adjust, when set, revises the findings before the allowlist applies
	// (a range scan takes back the markers the change added itself) and
	// says why in warnings.
	adjust func(context.Context, []finding.Finding) ([]finding.Finding, []string)
	// stop is set when the scan could not do its job (a source that
	// failed half-way, nothing readable); the report is written all the
	// same, and the run exits 2 with this reason.
	stop error
}

// newRun starts a scan whose bundles read their source maps through bx
// (nil: bundles read no source map), if expansion is on at all.
func (o *scanOptions) newRun(bx *bundle.Expander) *scanRun {
	r := &scanRun{opts: o, set: finding.NewSet(), start: time.Now()}
	r.engine = &scanner.Engine{
		Detector: &scanner.Detector{NearMisses: o.NearMisses},
		Workers:  o.Workers,
		OnSkip:   func(s finding.Skip) { r.skipped = append(r.skipped, s) },
	}
	r.engine.Expanders, r.engine.Limits = o.Expand.engineExpansion(bx, o.Workers)
	return r
}

// showProgress draws the scan's status line while it runs, where one
// belongs (see wantsProgress). Commands that draw their own (org) do not
// call it.
func (r *scanRun) showProgress() *scanRun {
	if r.opts.wantsProgress() {
		r.prog = startProgress(r.opts.sys.Err)
		r.engine.Progress = r.prog.update
	}
	return r
}

// wantsProgress says whether a status line belongs on stderr: not turned
// off, stderr a terminal, and not CI's log.
func (o *scanOptions) wantsProgress() bool {
	return !o.NoProgress && o.sys.terminal(o.sys.Err) && o.sys.env("CI") == ""
}

// configFor loads the allowlist and policy: the file --config names, or
// root's own .atomyx-guard.toml (a regular file inside root only, see
// config.LoadRoot). A missing file means the defaults.
func (o *scanOptions) configFor(root string) (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if o.ConfigPath != "" {
		cfg, err = config.Load(o.ConfigPath)
	} else {
		cfg, err = config.LoadRoot(root)
	}
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// finish filters, writes the report and turns the outcome into an exit
// code. The report is written whenever there is one: a scan that a signal
// or a failure stopped early writes what it found until then, marked
// partial, and exits 2 (130 after SIGINT).
func (r *scanRun) finish(ctx context.Context, cfg *config.Config, stats report.Stats, warnings []string) error {
	o := r.opts
	rep, incomplete := r.report(ctx, cfg, stats, warnings)
	// Text on stdout shows the warnings itself; otherwise they go to
	// stderr, except the one the exit line repeats.
	if o.Format != "text" || o.ReportPath != "" {
		for _, w := range rep.Warnings {
			if incomplete == nil || w != incomplete.Error() {
				fmt.Fprintf(o.sys.Err, "atomyx-guard: warning: %s\n", patterns.RedactRuns(w))
			}
		}
	}
	if err := o.write(rep); err != nil {
		return err
	}
	if ctx.Err() != nil && incomplete == nil {
		// Run turns any error after a signal into the signal's exit code.
		return context.Cause(ctx)
	}
	if incomplete != nil {
		return incomplete
	}
	if o.failing(rep.Findings) || (cfg.FailOnEnvironmentMismatch && mismatched(rep.Findings) > 0) {
		return leaks(o.ExitCode)
	}
	return nil
}

// stopped is why the scan did not run to the end of its source, or nil: a
// signal (the context's cause) or r.stop.
func (r *scanRun) stopped(ctx context.Context) error {
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		if sc := interrupted(ctx); sc != nil {
			cause = sc
		}
		return fmt.Errorf("%w: the scan stopped early; this report holds what was found until then", cause)
	}
	return r.stop
}

// failed records that the scan stopped half-way because of err (not a
// signal: stopped says that itself).
func (r *scanRun) failed(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil {
		r.stop = fmt.Errorf("the scan stopped early (%w); this report holds what was found until then", err)
	}
}

// report ends the scan: the allowlist, then verification and response
// where asked. A non-nil error says the scan stopped early, or
// verification or response was not completed; the report is whole all
// the same and carries it as a warning. A scan that stopped early is
// verified (while the context lives) but never responded to: acting on
// half a scan is for a person to decide.
func (r *scanRun) report(ctx context.Context, cfg *config.Config, stats report.Stats, warnings []string) (*report.Report, error) {
	if r.prog != nil {
		r.prog.stop()
	}
	o := r.opts
	found := r.set.Findings()
	if r.adjust != nil && ctx.Err() == nil {
		var more []string
		found, more = r.adjust(ctx, found)
		warnings = append(slices.Clip(warnings), more...)
	}
	kept, allowed := cfg.Filter(found)
	warnings = append(warnings, markOwnCredential(o.sys, kept)...)
	finding.MarkEnvironmentMismatches(kept, r.envCheck)
	rep := &report.Report{
		Findings: kept,
		Skipped:  r.skipped,
		Warnings: warnings,
		Stats:    stats,
	}
	if o.NearMisses {
		rep.NearMisses = r.set.NearMisses()
	}
	rep.Stats.Allowed = int64(len(allowed))
	incomplete := r.stopped(ctx)
	if incomplete != nil {
		rep.Stats.Partial = true
	}
	if o.Verify && len(kept) > 0 && ctx.Err() == nil {
		if err := o.verify(ctx, kept); err != nil {
			verr := fmt.Errorf("verification incomplete: %w", err)
			if incomplete == nil {
				incomplete = verr
			} else {
				rep.Warnings = append(rep.Warnings, verr.Error())
			}
		} else {
			rep.Stats.Verified = true
		}
	}
	if o.Respond && incomplete == nil && len(kept) > 0 {
		flags := o.Response
		flags.APIURL = o.APIURL
		respond := o.respond
		if respond == nil {
			respond = respondFindings
		}
		sum, err := respond(ctx, o.sys, cfg, kept, flags)
		printSummary(o.sys.Err, sum)
		if err != nil {
			incomplete = fmt.Errorf("response incomplete: %w", err)
		}
	}
	if incomplete != nil {
		rep.Warnings = append(rep.Warnings, incomplete.Error())
	}
	rep.Stats.DurationMS = time.Since(r.start).Milliseconds()
	return rep, incomplete
}

// failing says whether fs fail the scan under --fail-on.
func (o *scanOptions) failing(fs []finding.Finding) bool {
	return o.FailOn.Fails(len(fs), report.Active(fs))
}

// verify sets each finding's status from the Vault, in place.
func (o *scanOptions) verify(ctx context.Context, fs []finding.Finding) error {
	c, err := newVaultClient(o.sys, o.APIURL, "the keys:verify role")
	if err != nil {
		for i := range fs {
			fs[i].StatusReason = err.Error()
		}
		return err
	}
	return c.VerifyFindings(ctx, fs)
}

func (o *scanOptions) write(rep *report.Report) error {
	w, closeFn, err := o.output()
	if err != nil {
		return err
	}
	switch o.Format {
	case "json":
		err = report.WriteJSON(w, rep)
	case "html":
		err = report.WriteHTML(w, rep, report.HTMLOptions{RepositoryURL: o.repositoryURL(), ServerURL: o.sys.env("GITHUB_SERVER_URL"),
			Generated: time.Now().UTC().Format(time.RFC3339), Version: version.String()})
	case "sarif":
		err = report.WriteSARIF(w, rep, report.ToolInfo{Name: "atomyx-guard", Version: version.String(),
			MessageFile: o.messageFile, RepositoryURL: o.repositoryURL()})
	default:
		err = report.WriteText(w, rep, report.TextOptions{
			Color:   o.ReportPath == "" && report.ColorEnabled(w, o.sys.env) && o.sys.terminal(w),
			Verbose: o.Verbose,
		})
	}
	if cerr := closeFn(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// repositoryURL is the GitHub repository scanned, for links in reports:
// --repo (or GITHUB_REPOSITORY) on GITHUB_SERVER_URL; "" when unknown.
func (o *scanOptions) repositoryURL() string {
	repo := o.Response.Repo
	if repo == "" {
		repo = o.sys.env("GITHUB_REPOSITORY")
	}
	if repo == "" || strings.Count(repo, "/") != 1 {
		return ""
	}
	server := strings.TrimSuffix(o.sys.env("GITHUB_SERVER_URL"), "/")
	if server == "" {
		server = "https://github.com"
	}
	return server + "/" + repo
}

func (o *scanOptions) output() (io.Writer, func() error, error) {
	if o.ReportPath == "" || o.ReportPath == "-" {
		return o.sys.Out, func() error { return nil }, nil
	}
	f, err := os.OpenFile(o.ReportPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open report: %w", err)
	}
	return f, f.Close, nil
}

// expandOptions bound how far scans look inside archives and bundles;
// every scan command has them.
type expandOptions struct {
	MaxDepth    int
	MaxExpanded int64
	MaxRatio    float64
	NoExpand    bool
}

func (o *expandOptions) addFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.MaxDepth, "max-archive-depth", scanner.DefaultMaxDepth, "how deep archives nest before they are left unopened")
	fs.Int64Var(&o.MaxExpanded, "max-expanded-bytes", scanner.DefaultMaxTotalBytes, "bytes expanded out of one file before the rest is skipped")
	fs.Float64Var(&o.MaxRatio, "max-ratio", scanner.DefaultMaxRatio, "expanded/compressed ratio over which an archive is a bomb and skipped")
	fs.BoolVar(&o.NoExpand, "no-expand", false, "scan archives and bundles as plain bytes, without looking inside")
}

func (o *expandOptions) validate() error {
	// Zero means the engine's default (options built without flags).
	if o.MaxDepth < 0 || o.MaxExpanded < 0 || o.MaxRatio < 0 {
		return fmt.Errorf("--max-archive-depth, --max-expanded-bytes and --max-ratio must not be negative")
	}
	return nil
}

// engineExpansion is what the engine looks inside and how far, for every
// command: nothing with --no-expand, else archives and bundles, the bundles
// through bx when the source can read source maps (nil: a bundle expander
// that reads none). It is the one place that decides, so a flag cannot be
// undone by a command that wires its own expander afterwards. workers
// (--workers, 0: every core) also bounds the cores one compressed file is
// decoded on.
func (o *expandOptions) engineExpansion(bx *bundle.Expander, workers int) ([]scanner.Expander, scanner.Limits) {
	lim := scanner.Limits{MaxDepth: o.MaxDepth, MaxTotalBytes: o.MaxExpanded, MaxRatio: o.MaxRatio}
	if o.NoExpand {
		return nil, lim
	}
	// A key in a committed tgz, a deployed source map or a PDF is as
	// leaked as any.
	if bx == nil {
		bx = &bundle.Expander{}
	}
	return []scanner.Expander{&archive.Expander{Workers: workers}, bx, &document.Expander{}}, lim
}
