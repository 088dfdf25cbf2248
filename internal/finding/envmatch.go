package finding

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Environment hygiene: Atomyx asks for "separate keys for development,
// staging, production". A key of one environment found where another
// environment's configuration lives (a production key in .env.development,
// a staging key in a workflow job deploying to production) is a finding of
// its own, whatever the key's status: the environments are not separate.

// Evidence of a place's environment.
const (
	// EvidencePath is a path segment or file name (".env.development",
	// "config/staging/…").
	EvidencePath = "path"
	// EvidenceWorkflowEnvironment is a GitHub Actions job's
	// `environment:`.
	EvidenceWorkflowEnvironment = "workflow-environment"
	// EvidenceWorkflowJob is a GitHub Actions job's id or name.
	EvidenceWorkflowJob = "workflow-job"
)

// EnvMismatch is one place a key was found that belongs to another
// environment than the key's.
type EnvMismatch struct {
	// Environment is the place's: development, staging or production.
	Environment string `json:"environment"`
	// Evidence says how the place's environment is known: path,
	// workflow-environment or workflow-job.
	Evidence string `json:"evidence"`
	// Path or URL and Line name the place, as its location does.
	Path string `json:"path,omitempty"`
	URL  string `json:"url,omitempty"`
	Line int    `json:"line,omitempty"`
	// Detail is the word that gave it away (the job id, the directory).
	Detail string `json:"detail,omitempty"`
}

// String is one line for text reports.
func (m EnvMismatch) String() string {
	where := m.Path
	if where == "" {
		where = m.URL
	}
	if m.Line > 0 {
		where = fmt.Sprintf("%s:%d", where, m.Line)
	}
	s := fmt.Sprintf("%s is a %s place (%s", where, m.Environment, m.Evidence)
	if m.Detail != "" {
		s += " " + m.Detail
	}
	return s + ")"
}

// ContentFunc returns the text of the file a location is in, or nil when
// it cannot be read. The workflow check needs it; paths do not.
type ContentFunc func(Location) []byte

// EnvCheck says how to read the places of a scan.
type EnvCheck struct {
	// Content reads a location's file, for workflow files; nil: paths only.
	Content ContentFunc
	// Roots are the scan roots the paths begin with (a dir scan's
	// arguments, as given): only what lies below a root counts, so that
	// /home/dev/app/.env is not a development place.
	Roots []string
}

// relative cuts the root a path lies under; a file root keeps its name.
func (c EnvCheck) relative(p string) string {
	best := ""
	for _, r := range c.Roots {
		r = strings.TrimSuffix(strings.ReplaceAll(r, "\\", "/"), "/")
		switch {
		case r == "" || r == ".":
		case p == r:
			return path.Base(p)
		case strings.HasPrefix(p, r+"/") && len(r) > len(best):
			best = r
		}
	}
	if best != "" {
		return p[len(best)+1:]
	}
	return p
}

// envWords maps the words that name an environment in paths, job ids and
// GitHub environment names.
var envWords = map[string]string{
	"dev": "development", "devel": "development", "develop": "development", "development": "development",
	"stg": "staging", "stage": "staging", "staging": "staging", "preprod": "staging",
	"prd": "production", "prod": "production", "production": "production",
}

// WordsEnvironment returns the environment the words of s name, split at
// anything but letters and digits. Words that name two environments
// ("promote-staging-to-production") name none: the place is ambiguous.
func WordsEnvironment(s string) (env, word string) {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	}) {
		e, ok := envWords[w]
		switch {
		case !ok:
		case env == "":
			env, word = e, w
		case env != e:
			return "", ""
		}
	}
	return env, word
}

// PathEnvironment returns the environment a path's directories and file
// name name, and the segment that said so.
func PathEnvironment(p string) (env, segment string) {
	p = strings.ReplaceAll(p, "!", "/")
	for _, seg := range strings.Split(p, "/") {
		if seg == "" {
			continue
		}
		e, _ := WordsEnvironment(seg)
		switch {
		case e == "":
		case env == "":
			env, segment = e, seg
		case env != e:
			return "", ""
		}
	}
	return env, segment
}

// isWorkflow reports whether p is a GitHub Actions workflow file.
func isWorkflow(p string) bool {
	p = p[strings.LastIndexAny(p, "!:")+1:]
	dir, file := path.Split(p)
	ext := path.Ext(file)
	return strings.HasSuffix(dir, ".github/workflows/") && (ext == ".yml" || ext == ".yaml")
}

// LocationEnvironment returns the environment of the place l names, the
// evidence, and the word that said so; "" when nothing says.
func LocationEnvironment(l Location, c EnvCheck) (env, evidence, detail string) {
	if l.Path != "" && isWorkflow(l.Path) && c.Content != nil && l.Kind != KindCommitMessage && l.Kind != KindTagMessage {
		if data := c.Content(l); data != nil {
			if env, ev, d := WorkflowEnvironment(data, l.Line); env != "" {
				return env, ev, d
			}
		}
	}
	p := c.relative(l.Path)
	if p == "" && l.URL != "" {
		p = l.URL
	}
	if l.Kind == KindCommitMessage || l.Kind == KindTagMessage {
		return "", "", ""
	}
	if env, seg := PathEnvironment(p); env != "" {
		return env, EvidencePath, seg
	}
	return "", "", ""
}

// MarkEnvironmentMismatches sets each finding's EnvironmentMismatch from
// its locations: every place whose environment differs from the key's. A
// key found in places of two environments always has such a place.
func MarkEnvironmentMismatches(fs []Finding, c EnvCheck) {
	for i := range fs {
		f := &fs[i]
		f.EnvironmentMismatch = nil
		for _, l := range f.Locations {
			env, ev, detail := LocationEnvironment(l, c)
			if env == "" || env == f.Environment {
				continue
			}
			m := EnvMismatch{Environment: env, Evidence: ev, Path: l.Path, URL: l.URL, Line: l.Line, Detail: detail}
			if !slices.Contains(f.EnvironmentMismatch, m) {
				f.EnvironmentMismatch = append(f.EnvironmentMismatch, m)
			}
		}
	}
}

// WorkflowEnvironment finds the job of a GitHub Actions workflow that
// holds line (1-based) and the environment it is for: its `environment:`
// (a name, or a mapping's `name:`), else its id or `name:`. It reads the
// block-style YAML workflows are written in by indentation, without a
// YAML parser: enough to place a line in a job, and safe on any input.
func WorkflowEnvironment(data []byte, line int) (env, evidence, detail string) {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return "", "", ""
	}
	// Find "jobs:" at the top level.
	jobs := -1
	for i, l := range lines {
		if indent(l) == 0 && keyOf(l) == "jobs" {
			jobs = i
			break
		}
	}
	if jobs < 0 || line-1 <= jobs {
		return "", "", ""
	}
	// The job indent is that of the first key under jobs.
	jobIndent := -1
	start := -1
	for i := jobs + 1; i < len(lines) && i <= line-1; i++ {
		l := lines[i]
		if blank(l) {
			continue
		}
		ind := indent(l)
		if ind == 0 {
			return "", "", "" // left jobs before reaching the line
		}
		if jobIndent < 0 {
			jobIndent = ind
		}
		if ind == jobIndent && keyOf(l) != "" {
			start = i
		}
	}
	if start < 0 {
		return "", "", ""
	}
	jobID := keyOf(lines[start])
	// Read the job's own keys (one level deeper) up to its end.
	var envName, jobName string
	childIndent := -1
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		if blank(l) {
			continue
		}
		ind := indent(l)
		if ind <= jobIndent {
			break
		}
		if childIndent < 0 {
			childIndent = ind
		}
		if ind != childIndent {
			continue
		}
		switch keyOf(l) {
		case "environment":
			envName = valueOf(l)
			if envName == "" {
				// environment: {name: …} as a block mapping.
				for k := i + 1; k < len(lines); k++ {
					if blank(lines[k]) {
						continue
					}
					if indent(lines[k]) <= childIndent {
						break
					}
					if keyOf(lines[k]) == "name" {
						envName = valueOf(lines[k])
						break
					}
				}
			} else if strings.HasPrefix(envName, "{") {
				if _, after, ok := strings.Cut(envName, "name:"); ok {
					envName = strings.TrimSpace(strings.Trim(strings.TrimSpace(strings.SplitN(after, ",", 2)[0]), "}"))
					envName = strings.Trim(envName, `"'`)
				}
			}
		case "name":
			jobName = valueOf(l)
		}
	}
	if e, w := WordsEnvironment(envName); e != "" {
		return e, EvidenceWorkflowEnvironment, w
	}
	for _, s := range []string{jobID, jobName} {
		if e, _ := WordsEnvironment(s); e != "" {
			return e, EvidenceWorkflowJob, jobID
		}
	}
	return "", "", ""
}

func blank(l []byte) bool {
	t := bytes.TrimSpace(l)
	return len(t) == 0 || t[0] == '#'
}

func indent(l []byte) int {
	n := 0
	for n < len(l) && (l[n] == ' ' || l[n] == '\t') {
		n++
	}
	return n
}

// keyOf returns the key of a "key:" or "key: value" line, or "".
func keyOf(l []byte) string {
	t := strings.TrimSpace(string(l))
	t = strings.TrimPrefix(t, "- ")
	k, _, ok := strings.Cut(t, ":")
	if !ok || k == "" || strings.ContainsAny(k, " \t\"'{[#") && !(strings.HasPrefix(k, `"`) || strings.HasPrefix(k, `'`)) {
		return ""
	}
	return strings.Trim(k, `"'`)
}

// valueOf returns the scalar after "key:", unquoted, without a comment.
func valueOf(l []byte) string {
	_, v, _ := strings.Cut(string(l), ":")
	v = strings.TrimSpace(v)
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return strings.Trim(v, `"'`)
}

// MergeMismatches sets each merged finding's EnvironmentMismatch to the
// union of what the reports (shards) said of its key: a workflow's
// evidence cannot be recomputed from a report, so it is carried over.
func MergeMismatches(merged []Finding, lists ...[]Finding) {
	byFP := map[string][]EnvMismatch{}
	for _, list := range lists {
		for _, f := range list {
			for _, m := range f.EnvironmentMismatch {
				if !slices.Contains(byFP[f.Fingerprint], m) {
					byFP[f.Fingerprint] = append(byFP[f.Fingerprint], m)
				}
			}
		}
	}
	for i := range merged {
		merged[i].EnvironmentMismatch = byFP[merged[i].Fingerprint]
	}
}
