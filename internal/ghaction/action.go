package ghaction

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/report/commitfile"
	"github.com/atomyx/atomyx-guard/patterns"
)

// Config is the run's setting, from the runner's environment.
type Config struct {
	EventName, EventPath string
	Workspace            string
	OutputFile           string // $GITHUB_OUTPUT
	SummaryFile          string // $GITHUB_STEP_SUMMARY
	SHA                  string // $GITHUB_SHA, for the log only
	// Path is the repository to scan; relative paths are taken from
	// Workspace.
	Path string
	// SARIFFile is where the SARIF report goes.
	SARIFFile string
	FailOn    report.FailOn
	// Verify and Respond ask the Vault about found keys and act on them.
	Verify, Respond bool
	VaultURL        string
	// HasAPIKey is set when ATOMYX_API_KEY is in the environment; the key
	// itself is never read here.
	HasAPIKey bool
}

// Inputs are read from INPUT_<NAME> variables, the name upper-cased with
// '-' as '_' (action.yml passes them so: composite actions do not).
func input(getenv func(string) string, name string) string {
	return strings.TrimSpace(getenv("INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))))
}

// ConfigFromEnv reads the runner's variables and the action's inputs.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		EventName:   getenv("GITHUB_EVENT_NAME"),
		EventPath:   getenv("GITHUB_EVENT_PATH"),
		Workspace:   getenv("GITHUB_WORKSPACE"),
		OutputFile:  getenv("GITHUB_OUTPUT"),
		SummaryFile: getenv("GITHUB_STEP_SUMMARY"),
		SHA:         getenv("GITHUB_SHA"),
		Path:        cmp.Or(input(getenv, "path"), "."),
		SARIFFile:   input(getenv, "sarif-file"),
		FailOn:      report.FailOn(cmp.Or(input(getenv, "fail-on"), string(report.FailAny))),
		VaultURL:    input(getenv, "vault-url"),
		HasAPIKey:   getenv("ATOMYX_API_KEY") != "",
	}
	var err error
	if c.Verify, err = boolInput(getenv, "verify"); err != nil {
		return c, err
	}
	if c.Respond, err = boolInput(getenv, "respond"); err != nil {
		return c, err
	}
	if _, err := report.ParseFailOn(string(c.FailOn)); err != nil {
		return c, fmt.Errorf("input fail-on: %w", err)
	}
	if c.Respond {
		c.Verify = true // as --respond implies --verify
	}
	if c.FailOn == report.FailActive && !c.Verify {
		return c, errors.New("input fail-on: active needs verify: true (only the Vault can say a key is active)")
	}
	if c.EventName == "" {
		return c, errors.New("GITHUB_EVENT_NAME is not set: 'atomyx-guard action' runs inside a GitHub Actions job")
	}
	if c.Workspace == "" {
		c.Workspace = "."
	}
	if !filepath.IsAbs(c.Path) {
		c.Path = filepath.Join(c.Workspace, c.Path)
	}
	if c.SARIFFile == "" {
		c.SARIFFile = filepath.Join(cmp.Or(getenv("RUNNER_TEMP"), os.TempDir()), "atomyx-guard.sarif")
	} else if !filepath.IsAbs(c.SARIFFile) {
		c.SARIFFile = filepath.Join(c.Workspace, c.SARIFFile)
	}
	return c, nil
}

func boolInput(getenv func(string) string, name string) (bool, error) {
	v := input(getenv, name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("input %s: %q is not true or false", name, patterns.Scrub(v))
	}
	return b, nil
}

// Request is what the action asks of the scanner.
type Request struct {
	// Dir is the repository.
	Dir string
	// Base..Head is the range; All scans everything instead.
	Base, Head string
	All        bool
	// Untrusted says the checkout is the change under review (a pull
	// request, a merge queue entry): its own .atomyx-guard.toml and inline
	// markers must not allow its keys. With a range, the base's are used;
	// without one (the base is not in the checkout), none.
	Untrusted bool
	// Verify and Respond ask the Vault about keys found and act on them;
	// the scanner reads ATOMYX_API_KEY (and GITHUB_TOKEN) itself.
	Verify, Respond bool
	VaultURL        string
}

// Scanner runs a scan. It is defined here, where it is used; the CLI gives
// the real one (the same code as `atomyx-guard git`). A report with an
// error means the scan ran but verification or response did not complete:
// the run reports what it has and exits 2.
type Scanner interface {
	Scan(ctx context.Context, req Request) (*report.Report, error)
}

// Run is one run of the action: plan, scan, report, and the verdict: nil
// (clean), report.ErrLeaks, or why the job could not be done, which the
// CLI turns into exit codes 0, 1 and 2. Workflow commands (annotations) go
// to out. A returned error other than ErrLeaks has already been announced
// as an error annotation on out.
func Run(ctx context.Context, c Config, sc Scanner, out io.Writer) error {
	// Everything the job log gets passes the mask: the event payload
	// brings text nobody checked (a branch named after a key).
	mw := &maskWriter{w: out}
	defer mw.flush()
	out = mw
	an := &annotator{w: out}
	fail := func(err error) error {
		an.emit(Annotation{Level: "error", Title: "atomyx-guard", Message: err.Error()})
		_ = appendFile(c.SummaryFile, []byte("## atomyx-guard\n\n> [!CAUTION]\n> "+mdLine(err.Error())+"\n"))
		return err
	}
	data, err := os.ReadFile(c.EventPath)
	if err != nil {
		return fail(fmt.Errorf("read the event payload (GITHUB_EVENT_PATH): %w", err))
	}
	ev, err := ParseEvent(data)
	if err != nil {
		return fail(err)
	}
	scope, err := Plan(c.Path, c.EventName, ev)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "atomyx-guard: %s\n", scope.Describe)

	rep := &report.Report{Findings: []finding.Finding{}}
	var (
		incomplete error
		notices    []string // for the summary; already announced
	)
	if !scope.Empty {
		req := Request{Dir: c.Path, Base: scope.Base, Head: scope.Head, All: scope.All, Untrusted: scope.Untrusted,
			Verify: c.Verify, Respond: c.Respond, VaultURL: c.VaultURL}
		if (req.Verify || req.Respond) && !c.HasAPIKey {
			msg := "verification and response skipped: ATOMYX_API_KEY is not set"
			if ev.IsFork() && c.EventName == "pull_request" {
				msg = "verification and response skipped: a pull request from a fork gets no secrets; the scan still runs"
				an.emit(Annotation{Level: "notice", Title: "atomyx-guard", Message: msg})
				req.Verify, req.Respond = false, false
				notices = append(notices, msg)
				if c.FailOn == report.FailActive {
					c.FailOn = report.FailAny // nothing can be shown inactive: every key counts
				}
			} else {
				return fail(errors.New(msg + "; pass it through env: ATOMYX_API_KEY: ${{ secrets.ATOMYX_API_KEY }}"))
			}
		}
		rep, incomplete = sc.Scan(ctx, req)
		if rep == nil {
			return fail(fmt.Errorf("scan: %w", cmp.Or(incomplete, errors.New("no report"))))
		}
		if incomplete != nil {
			rep.Warnings = append(rep.Warnings, incomplete.Error())
			an.emit(Annotation{Level: "error", Title: "atomyx-guard", Message: incomplete.Error()})
		}
	}
	if scope.Partial {
		// The scanner's own shallow-clone warning says in git's terms
		// what the advice below says: it goes.
		rep.Warnings = slices.DeleteFunc(rep.Warnings, func(w string) bool { return strings.HasPrefix(w, "shallow clone") })
	}
	for _, w := range rep.Warnings {
		if incomplete == nil || w != incomplete.Error() {
			an.emit(Annotation{Level: "warning", Title: "atomyx-guard", Message: w})
		}
	}
	rep.Warnings = append(append(rep.Warnings, notices...), scope.Notes...)
	for i, w := range rep.Warnings {
		rep.Warnings[i] = patterns.RedactRuns(w)
	}
	advice := ""
	if scope.Partial {
		// The advice once per medium: one annotation, one warning in the
		// report (so SARIF's invocation carries it, marked unsuccessful),
		// one caution in the summary.
		advice = ShallowAdviceFor(c.EventName, ev)
		rep.Stats.Partial = true
		rep.Warnings = append(rep.Warnings, advice)
		an.emit(Annotation{Level: "error", Title: "atomyx-guard: shallow checkout", Message: advice})
	}
	for _, n := range scope.Notes {
		an.emit(Annotation{Level: "warning", Title: "atomyx-guard", Message: n})
	}

	keys, active := count(rep)
	annotate(an, rep, relPrefix(c.Workspace, c.Path))
	if err := writeSARIF(ctx, c.SARIFFile, c.Path, rep); err != nil {
		return fail(err)
	}
	if err := writeSummary(c.SummaryFile, scope, rep, advice); err != nil {
		return fail(fmt.Errorf("write the job summary: %w", err))
	}
	if err := writeOutputs(c.OutputFile, map[string]string{
		"findings": strconv.Itoa(keys),
		"active":   strconv.Itoa(active),
		"report":   c.SARIFFile,
	}); err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "atomyx-guard: %s\n", report.Summary(rep))

	switch {
	case incomplete != nil:
		return incomplete
	case scope.Partial:
		return errors.New("shallow checkout: the scan is partial")
	case c.FailOn.Fails(keys, active):
		return report.ErrLeaks
	}
	return nil
}

// count returns the keys with a location no allowlist covers, and how many
// of those are active.
func count(rep *report.Report) (keys, active int) {
	for _, f := range rep.Findings {
		if len(unallowed(f.Locations)) == 0 {
			continue
		}
		keys++
		if f.Status == finding.Active {
			active++
		}
	}
	return keys, active
}

func unallowed(ls []finding.Location) []finding.Location {
	var out []finding.Location
	for _, l := range ls {
		if l.Allowed == "" {
			out = append(out, l)
		}
	}
	return out
}

// annotate emits one error annotation per location of a key, within
// GitHub's limit; the last slot says what was left out.
func annotate(an *annotator, rep *report.Report, prefix string) {
	type item struct {
		f finding.Finding
		l finding.Location
	}
	var items []item
	for _, f := range rep.Findings {
		for _, l := range unallowed(f.Locations) {
			items = append(items, item{f, l})
		}
	}
	room := an.room()
	if room <= 0 {
		return
	}
	shown := len(items)
	if shown > room {
		shown = room - 1
	}
	for _, it := range items[:shown] {
		an.emit(locationAnnotation(it.f, it.l, prefix))
	}
	if rest := len(items) - shown; rest > 0 {
		an.emit(Annotation{Level: "error", Title: "atomyx-guard",
			Message: fmt.Sprintf("…and %d more locations of leaked Atomyx keys (GitHub shows %d annotations per step): see the job summary and the SARIF report.",
				rest, MaxErrorAnnotations)})
	}
}

func locationAnnotation(f finding.Finding, l finding.Location, prefix string) Annotation {
	a := Annotation{Level: "error", Title: fmt.Sprintf("Atomyx %s key %s", f.Environment, f.Redacted)}
	var where string
	switch {
	case l.Kind == finding.KindCommitMessage:
		where = "in the message of commit " + short(l.Commit)
	case l.Kind == finding.KindTagMessage:
		where = "in the message of tag " + cmp.Or(l.Tag, short(l.Commit))
	default:
		a.File = filepath.ToSlash(filepath.Join(prefix, l.Path))
		a.Line, a.Col = l.Line, l.Column
		where = "in " + l.Path
		if l.Commit != "" {
			where += " at commit " + short(l.Commit)
		}
	}
	a.Message = fmt.Sprintf("Atomyx %s key %s (%s, %s) %s. Rotate it and revoke the leaked key; "+
		"if it must stay, allowlist its fingerprint with a reason in .atomyx-guard.toml.",
		f.Environment, f.Redacted, f.Status, f.Fingerprint, where)
	return a
}

// relPrefix is the scanned repository's place in the workspace, which
// annotation paths are relative to.
func relPrefix(workspace, dir string) string {
	rel, err := filepath.Rel(workspace, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return ""
	}
	return rel
}

func writeSARIF(ctx context.Context, path, repoDir string, rep *report.Report) error {
	var buf bytes.Buffer
	if err := report.WriteSARIF(&buf, rep, report.ToolInfo{Category: "atomyx-guard", MessageFile: commitfile.Resolver(ctx, repoDir)}); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write the SARIF report: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the SARIF report: %w", err)
	}
	return nil
}

// writeSummary appends the job summary; advice, when set, is the
// shallow-checkout caution, shown once below the scope rather than also
// among the warnings.
func writeSummary(path string, scope Scope, rep *report.Report, advice string) error {
	if path == "" {
		return nil
	}
	var buf bytes.Buffer
	shown := *rep
	shown.Warnings = slices.DeleteFunc(slices.Clone(rep.Warnings), func(w string) bool { return w == advice })
	if err := report.Markdown(&buf, &shown); err != nil {
		return err
	}
	fmt.Fprintf(&buf, "\nScope: %s.\n", mdLine(scope.Describe))
	if advice != "" {
		fmt.Fprintf(&buf, "\n> [!CAUTION]\n> %s\n", mdLine(advice))
	}
	return appendFile(path, buf.Bytes())
}

// mdLine keeps text on one Markdown line, without HTML or key-shaped text.
func mdLine(s string) string {
	s = patterns.RedactRuns(s)
	return strings.NewReplacer("\r", " ", "\n", " ", "<", "&lt;", ">", "&gt;", "&", "&amp;").Replace(s)
}

// maskWriter passes whole lines on with every key-shaped run cut to its
// redacted form (patterns.RedactRuns, the mask findings get), so that no
// write, however split, lets a key through. flush passes on a last
// unterminated line.
type maskWriter struct {
	w    io.Writer
	line []byte
}

func (m *maskWriter) Write(p []byte) (int, error) {
	m.line = append(m.line, p...)
	if i := bytes.LastIndexByte(m.line, '\n'); i >= 0 {
		_, err := io.WriteString(m.w, patterns.RedactRuns(string(m.line[:i+1])))
		m.line = append(m.line[:0], m.line[i+1:]...)
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (m *maskWriter) flush() {
	if len(m.line) > 0 {
		_, _ = io.WriteString(m.w, patterns.RedactRuns(string(m.line)))
		m.line = m.line[:0]
	}
}
