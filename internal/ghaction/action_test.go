package ghaction

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/gitsource"
)

// The exit codes the CLI gives Run's verdicts; the tests state outcomes in
// these terms.
const (
	ExitClean = 0
	ExitLeaks = 1
	ExitError = 2
)

func exitOf(err error) int {
	switch {
	case err == nil:
		return ExitClean
	case errors.Is(err, report.ErrLeaks):
		return ExitLeaks
	}
	return ExitError
}

// gitScanner is the real scan (gitsource over the engine), recording what
// it was asked.
type gitScanner struct{ reqs []Request }

func (g *gitScanner) Scan(ctx context.Context, req Request) (*report.Report, error) {
	g.reqs = append(g.reqs, req)
	repo, err := gitsource.Open(ctx, req.Dir)
	if err != nil {
		return nil, err
	}
	var opts gitsource.Options
	if !req.All {
		opts.Range = req.Base + ".." + req.Head
	}
	set := finding.NewSet()
	res, err := repo.Scan(ctx, &scanner.Engine{Workers: 2}, opts, set)
	if err != nil {
		return nil, err
	}
	return &report.Report{Findings: set.Findings(), Warnings: res.Warnings, Skipped: res.Skipped,
		Stats: report.Stats{Commits: res.Commits, Blobs: res.Blobs, Bytes: res.Bytes, Partial: res.Partial}}, nil
}

// commitFiles writes files and commits them, returning the commit id.
func commitFiles(t *testing.T, repo string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Git(t, repo, "add", "-A")
	testkit.Git(t, repo, "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("commit %d files", len(files)))
	return testkit.Git(t, repo, "rev-parse", "HEAD")
}

// fixture is a repository with history: an old key on main (before the
// range), then a clean commit, then a feature branch.
type fixture struct {
	dir                string
	oldKey, newKey     string
	root, base         string // commits on main
	leak, cleanFeature string // feature commits: one with newKey, one clean on top of base
	workspace          string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{workspace: t.TempDir(), oldKey: testkit.NewKey(t, patterns.Production), newKey: testkit.NewKey(t, patterns.Staging)}
	f.dir = f.workspace
	testkit.Git(t, f.dir, "init", "-q", "-b", "main")
	f.root = commitFiles(t, f.dir, map[string]string{"old/settings.env": "KEY=" + f.oldKey + "\n"})
	f.base = commitFiles(t, f.dir, map[string]string{"old/settings.env": "KEY=${ATOMYX_API_KEY}\n"})
	testkit.Git(t, f.dir, "update-ref", "refs/remotes/origin/main", f.base)
	testkit.Git(t, f.dir, "checkout", "-q", "-b", "feature")
	f.leak = commitFiles(t, f.dir, map[string]string{"src/client.go": "package client\n\nconst key = \"" + f.newKey + "\"\n"})
	testkit.Git(t, f.dir, "checkout", "-q", "-b", "clean-feature", f.base)
	f.cleanFeature = commitFiles(t, f.dir, map[string]string{"src/ok.go": "package ok\n"})
	return f
}

// run runs the action for one event and returns what it left behind.
type result struct {
	code           int
	err            error
	stdout         string
	outputs        map[string]string
	summary, sarif string
	scanner        *gitScanner
}

func runAction(t *testing.T, dir, workspace, eventName string, event any, env map[string]string) result {
	t.Helper()
	tmp := t.TempDir()
	eventPath := filepath.Join(tmp, "event.json")
	data, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(eventPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"GITHUB_EVENT_NAME":   eventName,
		"GITHUB_EVENT_PATH":   eventPath,
		"GITHUB_WORKSPACE":    workspace,
		"GITHUB_OUTPUT":       filepath.Join(tmp, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(tmp, "summary.md"),
		"GITHUB_SHA":          strings.Repeat("e", 40),
		"RUNNER_TEMP":         tmp,
	}
	if dir != workspace {
		rel, _ := filepath.Rel(workspace, dir)
		vars["INPUT_PATH"] = rel
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	sc := &gitScanner{}
	var out bytes.Buffer
	res := result{scanner: sc}
	res.err = Run(context.Background(), cfg, sc, &out)
	res.code = exitOf(res.err)
	res.stdout = out.String()
	res.outputs = parseOutputs(t, vars["GITHUB_OUTPUT"])
	res.summary = readOr(vars["GITHUB_STEP_SUMMARY"])
	res.sarif = readOr(cfg.SARIFFile)
	return res
}

func readOr(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// parseOutputs reads $GITHUB_OUTPUT as the runner does.
func parseOutputs(t *testing.T, p string) map[string]string {
	t.Helper()
	out := map[string]string{}
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return out
	} else if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" {
			continue
		}
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			t.Fatalf("GITHUB_OUTPUT line %q is not name<<delimiter", lines[i])
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("GITHUB_OUTPUT: delimiter of %s not closed", name)
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// noKeys fails when any whole key appears in anything the action wrote.
func (r result) noKeys(t *testing.T, keys ...string) {
	t.Helper()
	all := r.stdout + r.summary + r.sarif
	for _, v := range r.outputs {
		all += v
	}
	if r.err != nil {
		all += r.err.Error()
	}
	for _, k := range keys {
		if strings.Contains(all, k) {
			t.Errorf("a whole key is in the action's output")
		}
	}
	if i := patterns.IndexKeyShape(all); i >= 0 {
		t.Errorf("key-shaped text in the action's output at %d", i)
	}
}

func prEvent(base, head string, fork bool) map[string]any {
	headRepo := "acme/app"
	if fork {
		headRepo = "mallory/app"
	}
	return map[string]any{
		"repository": map[string]any{"full_name": "acme/app", "default_branch": "main"},
		"pull_request": map[string]any{
			"number": 7,
			"base":   map[string]any{"sha": base, "ref": "main", "repo": map[string]any{"full_name": "acme/app"}},
			"head":   map[string]any{"sha": head, "ref": "feature", "repo": map[string]any{"full_name": headRepo, "fork": fork}},
		},
	}
}

func pushEvent(ref, before, after string) map[string]any {
	return map[string]any{
		"ref": ref, "before": before, "after": after,
		"created":    strings.Trim(before, "0") == "",
		"repository": map[string]any{"full_name": "acme/app", "default_branch": "main"},
	}
}

var zero = strings.Repeat("0", 40)

func TestEvents(t *testing.T) {
	f := newFixture(t)
	gone := strings.Repeat("a", 40) // a force-pushed-away commit no checkout holds
	tests := []struct {
		name      string
		event     string
		payload   any
		env       map[string]string
		wantCode  int
		wantScan  *Request // nil: the scanner is not called
		findings  string
		inSummary []string
		inStdout  []string
		notStdout []string
	}{
		{
			name: "pull request with a key", event: "pull_request", payload: prEvent(f.base, f.leak, false),
			wantCode: ExitLeaks, wantScan: &Request{Base: f.base, Head: f.leak}, findings: "1",
			inSummary: []string{patterns.Redact([]byte(f.newKey)), patterns.Fingerprint([]byte(f.newKey)), "pull request #7"},
			inStdout:  []string{"::error file=src/client.go,line=3,col=14,title=Atomyx staging key atmx_stg_"},
			notStdout: []string{patterns.Fingerprint([]byte(f.oldKey))}, // before the range
		},
		{
			name: "pull request clean", event: "pull_request", payload: prEvent(f.base, f.cleanFeature, false),
			wantCode: ExitClean, wantScan: &Request{Base: f.base, Head: f.cleanFeature}, findings: "0",
			inSummary: []string{"No Atomyx keys found"},
			notStdout: []string{"::error"},
		},
		{
			name: "pull_request_target scans base..head too", event: "pull_request_target", payload: prEvent(f.base, f.leak, false),
			wantCode: ExitLeaks, wantScan: &Request{Base: f.base, Head: f.leak}, findings: "1",
		},
		{
			name: "base equals head passes", event: "pull_request", payload: prEvent(f.leak, f.leak, false),
			wantCode: ExitClean, findings: "0", inStdout: []string{"nothing to scan"},
		},
		{
			name: "push", event: "push", payload: pushEvent("refs/heads/feature", f.base, f.leak),
			wantCode: ExitLeaks, wantScan: &Request{Base: f.base, Head: f.leak}, findings: "1",
		},
		{
			name: "push of a new branch scans what main lacks", event: "push", payload: pushEvent("refs/heads/feature", zero, f.leak),
			wantCode: ExitLeaks, wantScan: &Request{Base: f.base, Head: f.leak}, findings: "1",
			notStdout: []string{patterns.Fingerprint([]byte(f.oldKey))},
		},
		{
			name: "first push of the default branch scans everything", event: "push", payload: pushEvent("refs/heads/main", zero, f.base),
			wantCode: ExitLeaks, wantScan: &Request{All: true}, findings: "2",
		},
		{
			name: "force-push with before gone falls back with a warning", event: "push", payload: pushEvent("refs/heads/feature", gone, f.leak),
			wantCode: ExitLeaks, wantScan: &Request{Base: f.base, Head: f.leak}, findings: "1",
			inStdout:  []string{"::warning title=atomyx-guard::The commit before the push, aaaaaaaaaaaa, is not in the checkout (a force-push?)"},
			inSummary: []string{"force-push"},
		},
		{
			name: "deleted branch scans nothing", event: "push", payload: pushEvent("refs/heads/feature", f.leak, zero),
			wantCode: ExitClean, findings: "0",
		},
		{
			name: "merge group", event: "merge_group",
			payload:  map[string]any{"merge_group": map[string]any{"base_sha": f.base, "head_sha": f.leak}},
			wantCode: ExitLeaks, wantScan: &Request{Base: f.base, Head: f.leak}, findings: "1",
		},
		{
			name: "schedule scans everything", event: "schedule", payload: map[string]any{"schedule": "0 3 * * *"},
			wantCode: ExitLeaks, wantScan: &Request{All: true}, findings: "2",
			inSummary: []string{patterns.Fingerprint([]byte(f.oldKey)), patterns.Fingerprint([]byte(f.newKey))},
		},
		{
			name: "workflow_dispatch with fail-on never", event: "workflow_dispatch", payload: map[string]any{},
			env:      map[string]string{"INPUT_FAIL_ON": "never"},
			wantCode: ExitClean, wantScan: &Request{All: true}, findings: "2",
		},
		{
			name: "fork pull request: no secrets, verification skipped, scan runs", event: "pull_request",
			payload:  prEvent(f.base, f.leak, true),
			env:      map[string]string{"INPUT_VERIFY": "true", "INPUT_FAIL_ON": "active"},
			wantCode: ExitLeaks, wantScan: &Request{Base: f.base, Head: f.leak}, findings: "1",
			inStdout:  []string{"::notice title=atomyx-guard::verification and response skipped: a pull request from a fork gets no secrets"},
			inSummary: []string{"fork"},
		},
		{
			name: "verification without ATOMYX_API_KEY is an error", event: "pull_request",
			payload:  prEvent(f.base, f.leak, false),
			env:      map[string]string{"INPUT_VERIFY": "true"},
			wantCode: ExitError,
			inStdout: []string{"::error title=atomyx-guard::verification and response skipped: ATOMYX_API_KEY is not set"},
		},
		{
			name: "head not in the checkout", event: "pull_request", payload: prEvent(f.base, strings.Repeat("b", 40), false),
			wantCode: ExitError, inStdout: []string{"::error title=atomyx-guard::pull request #7: head commit bbbbbbbbbbbb is not in the checkout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runAction(t, f.dir, f.workspace, tt.event, tt.payload, tt.env)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d (err %v), want %d; stdout:\n%s", r.code, r.err, tt.wantCode, r.stdout)
			}
			switch {
			case tt.wantScan == nil && len(r.scanner.reqs) > 0:
				t.Errorf("scanner called with %+v, want no scan", r.scanner.reqs)
			case tt.wantScan != nil:
				if len(r.scanner.reqs) != 1 {
					t.Fatalf("scanner called %d times", len(r.scanner.reqs))
				}
				got := r.scanner.reqs[0]
				if got.Base != tt.wantScan.Base || got.Head != tt.wantScan.Head || got.All != tt.wantScan.All {
					t.Errorf("scan %+v, want base %s head %s all %v", got, tt.wantScan.Base, tt.wantScan.Head, tt.wantScan.All)
				}
				if got.Verify || got.Respond {
					t.Errorf("verification asked without a key: %+v", got)
				}
			}
			if tt.wantCode != ExitError {
				if r.outputs["findings"] != tt.findings || r.outputs["report"] == "" {
					t.Errorf("outputs %v, want findings=%s and a report path", r.outputs, tt.findings)
				}
				if r.outputs["active"] != "0" {
					t.Errorf("active = %q without verification", r.outputs["active"])
				}
				if !strings.Contains(r.sarif, `"version": "2.1.0"`) {
					t.Errorf("no SARIF at the report path")
				}
			}
			for _, w := range tt.inSummary {
				if !strings.Contains(r.summary, w) {
					t.Errorf("summary lacks %q:\n%s", w, r.summary)
				}
			}
			for _, w := range tt.inStdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tt.notStdout {
				if strings.Contains(r.stdout, w) {
					t.Errorf("stdout has %q:\n%s", w, r.stdout)
				}
			}
			r.noKeys(t, f.oldKey, f.newKey)
		})
	}
}

// A shallow checkout is scanned as far as it goes, marked partial, and
// fails the step with the way to fix it.
func TestShallowCheckout(t *testing.T) {
	f := newFixture(t)
	ws := t.TempDir()
	clone := filepath.Join(ws, "repo")
	testkit.Git(t, ws, "clone", "-q", "--depth", "1", "--branch", "feature", "file://"+f.dir, clone)
	r := runAction(t, clone, ws, "pull_request", prEvent(f.base, f.leak, false), nil)
	if r.code != ExitError {
		t.Fatalf("exit %d, want %d; stdout:\n%s", r.code, ExitError, r.stdout)
	}
	if !strings.Contains(r.stdout, "::error title=atomyx-guard%3A shallow checkout::") || !strings.Contains(r.stdout, "fetch-depth: 0") {
		t.Errorf("no shallow-checkout error annotation:\n%s", r.stdout)
	}
	if !strings.Contains(r.summary, "fetch-depth: 0") {
		t.Errorf("summary does not explain the shallow checkout:\n%s", r.summary)
	}
	// What is there was scanned: the key at the tip, annotated under the
	// repository's place in the workspace.
	if r.outputs["findings"] != "1" || !strings.Contains(r.stdout, "::error file=repo/src/client.go,line=3") {
		t.Errorf("outputs %v; stdout:\n%s", r.outputs, r.stdout)
	}
	if !strings.Contains(r.sarif, "src/client.go") {
		t.Errorf("SARIF lacks the finding")
	}
	// The advice once per medium, naming the pull request and the one
	// fix a pull_request run needs.
	evData, _ := json.Marshal(prEvent(f.base, f.leak, false))
	ev, err := ParseEvent(evData)
	if err != nil {
		t.Fatal(err)
	}
	advice := ShallowAdviceFor("pull_request", ev)
	if !strings.Contains(advice, "pull request #7") || !strings.Contains(advice, "fetch-depth: 0") || strings.Contains(advice, "ref:") {
		t.Errorf("advice for pull_request: %s", advice)
	}
	for name, text := range map[string]string{"log": r.stdout, "summary": r.summary} {
		if n := strings.Count(text, "fetch-depth: 0"); n != 1 {
			t.Errorf("the %s gives the fetch-depth advice %d times, want once:\n%s", name, n, text)
		}
	}
	if !strings.Contains(r.stdout, "atomyx-guard: pull request #7: ") {
		t.Errorf("scope line does not name the pull request:\n%s", r.stdout)
	}
	// The SARIF says the scan is partial, and why.
	var log struct {
		Runs []struct {
			Invocations []struct {
				ExecutionSuccessful bool `json:"executionSuccessful"`
				Notifications       []struct {
					Message struct{ Text string } `json:"message"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.sarif), &log); err != nil {
		t.Fatal(err)
	}
	inv := log.Runs[0].Invocations
	if len(inv) != 1 || inv[0].ExecutionSuccessful {
		t.Fatalf("SARIF invocations %+v, want one, unsuccessful", inv)
	}
	found := 0
	for _, n := range inv[0].Notifications {
		found += strings.Count(n.Message.Text, "fetch-depth: 0")
	}
	if found != 1 {
		t.Errorf("SARIF notifications give the advice %d times: %+v", found, inv[0].Notifications)
	}
	r.noKeys(t, f.oldKey, f.newKey)
}

// A shallow checkout that lacks the pull request's head still names the
// pull request in its scope line; pull_request_target is told to check out
// the head as well.
func TestShallowCheckoutScopeAndAdvice(t *testing.T) {
	f := newFixture(t)
	ws := t.TempDir()
	clone := filepath.Join(ws, "repo")
	testkit.Git(t, ws, "clone", "-q", "--depth", "1", "--branch", "clean-feature", "file://"+f.dir, clone)
	for _, ev := range []string{"pull_request", "pull_request_target"} {
		t.Run(ev, func(t *testing.T) {
			r := runAction(t, clone, ws, ev, prEvent(f.base, f.leak, false), nil)
			if r.code != ExitError {
				t.Fatalf("exit %d; stdout:\n%s", r.code, r.stdout)
			}
			if !strings.Contains(r.stdout, "atomyx-guard: pull request #7: everything the shallow checkout holds") {
				t.Errorf("scope line does not name the pull request:\n%s", r.stdout)
			}
			wantRef := ev == "pull_request_target"
			if got := strings.Contains(r.summary, "ref: ${{ github.event.pull_request.head.sha }}"); got != wantRef {
				t.Errorf("%s: advice names the head ref: %v, want %v\n%s", ev, got, wantRef, r.summary)
			}
			r.noKeys(t, f.oldKey, f.newKey)
		})
	}
}

// GitHub shows 10 error annotations per step: never more, and the last
// says how many were left out.
func TestAnnotationCap(t *testing.T) {
	ws := t.TempDir()
	testkit.Git(t, ws, "init", "-q", "-b", "main")
	base := commitFiles(t, ws, map[string]string{"README": "hi\n"})
	files := map[string]string{}
	var keys []string
	for i := range 13 {
		k := testkit.NewKey(t, patterns.Development)
		keys = append(keys, k)
		files[fmt.Sprintf("f%02d.txt", i)] = "k=" + k + "\n"
	}
	head := commitFiles(t, ws, files)
	r := runAction(t, ws, ws, "pull_request", prEvent(base, head, false), nil)
	if r.code != ExitLeaks {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	var errs []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "::error") {
			errs = append(errs, l)
		}
	}
	if len(errs) != MaxErrorAnnotations {
		t.Fatalf("%d error annotations, want %d:\n%s", len(errs), MaxErrorAnnotations, r.stdout)
	}
	if !strings.Contains(errs[9], "…and 4 more locations") || strings.Contains(errs[9], "file=") {
		t.Errorf("last annotation is not the summary of the rest: %s", errs[9])
	}
	if r.outputs["findings"] != "13" {
		t.Errorf("findings = %q, want 13", r.outputs["findings"])
	}
	r.noKeys(t, keys...)
}

func TestConfigErrors(t *testing.T) {
	base := map[string]string{"GITHUB_EVENT_NAME": "push"}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no event", map[string]string{}, "GITHUB_EVENT_NAME"},
		{"bad fail-on", map[string]string{"INPUT_FAIL_ON": "sometimes"}, "fail-on"},
		{"active without verify", map[string]string{"INPUT_FAIL_ON": "active"}, "needs verify"},
		{"bad bool", map[string]string{"INPUT_VERIFY": "yes please"}, "verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.name != "no event" {
				for k, v := range base {
					env[k] = v
				}
			}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := ConfigFromEnv(func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

// incompleteScanner scans for real, then reports that verification did not
// complete, as the CLI's scanner does when the Vault fails.
type incompleteScanner struct{ gitScanner }

func (s *incompleteScanner) Scan(ctx context.Context, req Request) (*report.Report, error) {
	rep, err := s.gitScanner.Scan(ctx, req)
	if err != nil {
		return nil, err
	}
	return rep, fmt.Errorf("verification incomplete: vault unreachable")
}

// An incomplete verification still leaves the report, outputs and summary,
// and fails the step with exit 2.
func TestIncompleteVerification(t *testing.T) {
	f := newFixture(t)
	tmp := t.TempDir()
	eventPath := filepath.Join(tmp, "event.json")
	data, _ := json.Marshal(prEvent(f.base, f.leak, false))
	if err := os.WriteFile(eventPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{EventName: "pull_request", EventPath: eventPath, Workspace: f.dir, Path: f.dir,
		OutputFile: filepath.Join(tmp, "out"), SummaryFile: filepath.Join(tmp, "sum"), SARIFFile: filepath.Join(tmp, "r.sarif"),
		FailOn: report.FailActive, Verify: true, HasAPIKey: true}
	var out bytes.Buffer
	err := Run(context.Background(), cfg, &incompleteScanner{}, &out)
	code := exitOf(err)
	if code != ExitError || err == nil {
		t.Fatalf("exit %d, err %v; want 2", code, err)
	}
	if !strings.Contains(out.String(), "::error title=atomyx-guard::verification incomplete") {
		t.Errorf("no error annotation:\n%s", out.String())
	}
	if o := parseOutputs(t, cfg.OutputFile); o["findings"] != "1" {
		t.Errorf("outputs %v", o)
	}
	if !strings.Contains(readOr(cfg.SARIFFile), "src/client.go") || !strings.Contains(readOr(cfg.SummaryFile), "verification incomplete") {
		t.Errorf("SARIF or summary missing what was found")
	}
}
