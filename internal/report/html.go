package report

import (
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/version"
	"github.com/atomyx/atomyx-guard/patterns"
)

// The HTML report is one file with its style and script inside, so that it
// works offline and as a CI artifact. Its Content-Security-Policy allows
// exactly those two (by hash) and nothing else: no request leaves the page,
// whatever a path or URL in the report says.
//
//go:embed htmlassets/report.html.tmpl htmlassets/report.css htmlassets/report.js
var htmlAssets embed.FS

// htmlParsed is the parsed template, its assets and their policy, built on
// first use: parsing at package init cost every run of the binary (the
// pre-commit hook too) about 0.3 ms and 1,400 allocations.
var htmlParsed = sync.OnceValue(func() (p struct {
	tmpl         *template.Template
	css, js, csp string
}) {
	p.tmpl = template.Must(template.New("report.html.tmpl").ParseFS(htmlAssets, "htmlassets/report.html.tmpl"))
	p.css = mustAsset("htmlassets/report.css")
	p.js = mustAsset("htmlassets/report.js")
	p.csp = "default-src 'none'; style-src " + cspHash(p.css) + "; script-src " + cspHash(p.js) +
		"; img-src data:; base-uri 'none'; form-action 'none'"
	return p
})

func mustAsset(name string) string {
	b, err := htmlAssets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func cspHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}

// HTMLOptions shape the HTML report.
type HTMLOptions struct {
	Title string // "atomyx-guard report" when empty
	// RepositoryURL is the repository a single-repository scan read
	// ("https://github.com/OWNER/NAME"), for links to commits and lines.
	RepositoryURL string
	// ServerURL is the GitHub server of org scans' "OWNER/NAME:path"
	// locations; https://github.com when empty.
	ServerURL string
	// Generated is shown as the report's date; empty leaves it out (goldens).
	Generated string
	// Version is the tool's (version.String() when empty).
	Version string
}

type (
	htmlCount struct {
		Name  string
		Count int
	}
	htmlRepo struct {
		Name, URL               string
		Keys, Active, Locations int
	}
	htmlRow struct {
		Status, Env, Redacted, Fingerprint string
		StatusRank                         int
		Repo                               string
		Where, WhereURL, Detail            string
		Commit, CommitURL                  string
		Date, SortDate, Author             string
	}
	htmlBar struct {
		Label                  string
		Count                  int
		X, Y, W, H, CX, NY, LY float64
		ShowLabel              bool
	}
	htmlChart struct {
		Width, Height int
		Unit          string
		Bars          []htmlBar
		Undated       int
	}
	htmlPage struct {
		Title, Summary, Generated, Version string
		CSP                                string
		CSS                                template.CSS
		JS                                 template.JS
		Keys, LocationCount                int
		ByStatus, ByEnv                    []htmlCount
		Chart                              *htmlChart
		Repos                              []htmlRepo
		Rows                               []htmlRow
		Warnings                           []string
		Skipped                            []finding.Skip
	}
)

// orgPath is an org scan's location path: "OWNER/NAME:path".
var orgPath = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+):(.+)$`) })

var hexCommit = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`) })

// WriteHTML writes r as one self-contained HTML page: totals by status and
// environment, a chart of keys by the date they entered history, counts
// per repository, and a sortable, filterable table of every location with
// links to GitHub where the repository is known. Like every writer, it
// sees only the scrubbed report, and html/template escapes every value.
func WriteHTML(w io.Writer, r *Report, o HTMLOptions) error {
	r = Scrubbed(r)
	o.Title, o.RepositoryURL, o.ServerURL, o.Generated, o.Version = s(o.Title), s(o.RepositoryURL), s(o.ServerURL), s(o.Generated), s(o.Version)
	assets := htmlParsed()
	page := htmlPage{
		Title:     cmp.Or(o.Title, "atomyx-guard report"),
		Summary:   Summary(r),
		Generated: o.Generated,
		Version:   strings.TrimPrefix(cmp.Or(o.Version, version.String()), "v"),
		CSP:       assets.csp,
		CSS:       template.CSS(assets.css),
		JS:        template.JS(assets.js),
		Keys:      len(r.Findings),
		Warnings:  r.Warnings,
		Skipped:   r.Skipped,
	}
	server := strings.TrimSuffix(cmp.Or(o.ServerURL, "https://github.com"), "/")
	localRepo, localURL := "", ""
	if u, err := url.Parse(o.RepositoryURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		localURL = strings.TrimSuffix(o.RepositoryURL, "/")
		localRepo = strings.Trim(u.Path, "/")
	}

	status := map[string]int{}
	env := map[string]int{}
	repos := map[string]*htmlRepo{}
	var dated []time.Time
	undated := 0
	for _, f := range byUrgency(r.Findings) {
		status[string(f.Status)]++
		env[f.Environment]++
		seen := map[string]bool{}
		var first time.Time
		for _, l := range f.Locations {
			repo, repoURL, p := "", "", l.Path
			if l.Source == finding.SourceGit {
				// RepositoryURL is the repository a git scan read; files,
				// sites and stdin are not in it.
				repo, repoURL = localRepo, localURL
			}
			if l.Repo != "" {
				// An org scan's location names its repository.
				repo, repoURL = l.Repo, server+"/"+l.Repo
			} else if m := orgPath().FindStringSubmatch(l.Path); m != nil {
				// A report written before locations carried repo.
				repo, repoURL, p = m[1], server+"/"+m[1], m[2]
			}
			name := cmp.Or(repo, "(this scan)")
			rp := repos[name]
			if rp == nil {
				rp = &htmlRepo{Name: name, URL: repoURL}
				repos[name] = rp
			}
			rp.Locations++
			if !seen[name] {
				seen[name] = true
				rp.Keys++
				if f.Status == finding.Active {
					rp.Active++
				}
			}
			row := htmlRow{
				Status: string(f.Status), StatusRank: slices.Index(statusOrder, f.Status), Env: f.Environment,
				Redacted: f.Redacted, Fingerprint: f.Fingerprint, Repo: name, Author: l.Author,
			}
			if row.StatusRank < 0 {
				row.StatusRank = len(statusOrder)
			}
			if hexCommit().MatchString(l.Commit) {
				row.Commit = short(l.Commit)
				if repoURL != "" {
					row.CommitURL = repoURL + "/commit/" + l.Commit
				}
			}
			if t, err := time.Parse(time.RFC3339, l.Date); err == nil {
				row.Date, row.SortDate = t.Format("2006-01-02"), t.UTC().Format(time.RFC3339)
				if first.IsZero() || t.Before(first) {
					first = t
				}
			}
			row.Where, row.WhereURL, row.Detail = htmlWhere(l, p, repoURL)
			page.Rows = append(page.Rows, row)
		}
		if first.IsZero() {
			undated++
		} else {
			dated = append(dated, first)
		}
	}
	page.LocationCount = len(page.Rows)
	for _, st := range statusOrder {
		page.ByStatus = append(page.ByStatus, htmlCount{string(st), status[string(st)]})
	}
	for _, e := range patterns.Environments {
		page.ByEnv = append(page.ByEnv, htmlCount{string(e), env[string(e)]})
		delete(env, string(e))
	}
	for _, e := range slices.Sorted(maps.Keys(env)) {
		page.ByEnv = append(page.ByEnv, htmlCount{e, env[e]})
	}
	for _, name := range slices.Sorted(maps.Keys(repos)) {
		page.Repos = append(page.Repos, *repos[name])
	}
	slices.SortStableFunc(page.Repos, func(a, b htmlRepo) int { return cmp.Compare(b.Keys, a.Keys) })
	page.Chart = timeline(dated, undated)
	if err := assets.tmpl.Execute(w, page); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// htmlWhere is a location's text, its link (a line on GitHub at the
// commit, the commit of a message, the page of a site) and a detail.
func htmlWhere(l finding.Location, p, repoURL string) (text, link, detail string) {
	commitOK := hexCommit().MatchString(l.Commit)
	switch {
	case l.Kind == finding.KindCommitMessage:
		text = "message of commit " + short(l.Commit)
		if repoURL != "" && commitOK {
			link = repoURL + "/commit/" + l.Commit
		}
	case l.Kind == finding.KindTagMessage:
		tag := cmp.Or(l.Tag, short(l.Commit))
		text = "message of tag " + tag
		if repoURL != "" && l.Tag != "" {
			link = repoURL + "/releases/tag/" + url.PathEscape(l.Tag)
		}
	case l.Source == finding.SourceURL || p == "" && l.URL != "":
		text = l.URL
		if u, err := url.Parse(l.URL); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
			link = l.URL
		}
	default:
		text = cmp.Or(p, l.Source)
		outer, _, member := strings.Cut(p, "!")
		if l.Line > 0 {
			text += ":" + strconv.Itoa(l.Line)
		}
		if repoURL != "" && commitOK && p != "" && l.Source == finding.SourceGit {
			link = repoURL + "/blob/" + l.Commit + "/" + pathEscape(cleanPath(outer))
			if l.Line > 0 && !member {
				link += "#L" + strconv.Itoa(l.Line)
			}
		}
	}
	var ds []string
	if len(l.Decoded) > 0 {
		ds = append(ds, "decoded from "+strings.Join(l.Decoded, ", "))
	}
	if o := l.Original; o != nil {
		ds = append(ds, "originally "+originalPos(o))
	}
	if l.Unreachable {
		ds = append(ds, "unreachable")
	}
	if l.Allowed != "" {
		ds = append(ds, "allowed: "+l.Allowed)
	}
	return text, link, strings.Join(ds, "; ")
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH            = 720, 220
	chartLeft, chartRight     = 10, 10
	chartTop, chartBottom     = 18, 28
	chartMaxBars, chartLabels = 120, 12
)

// timeline buckets keys by the date the earliest of their locations
// entered history: by day over a short span, else by month, else by year,
// so that there are at most chartMaxBars bars.
func timeline(dates []time.Time, undated int) *htmlChart {
	if len(dates) == 0 {
		return nil
	}
	for i, d := range dates {
		dates[i] = d.UTC()
	}
	lo, hi := slices.MinFunc(dates, time.Time.Compare), slices.MaxFunc(dates, time.Time.Compare)
	type unit struct {
		name   string
		trunc  func(time.Time) time.Time
		next   func(time.Time) time.Time
		format string
	}
	units := []unit{
		{"day", func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) },
			func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }, "2006-01-02"},
		{"month", func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) },
			func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }, "2006-01"},
		{"year", func(t time.Time) time.Time { return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC) },
			func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }, "2006"},
	}
	var u unit
	var buckets []time.Time
	for _, u = range units {
		buckets = buckets[:0]
		for t := u.trunc(lo); !t.After(hi); t = u.next(t) {
			buckets = append(buckets, t)
			if len(buckets) > chartMaxBars {
				break
			}
		}
		if len(buckets) <= chartMaxBars && (u.name != "day" || len(buckets) <= 62) {
			break
		}
	}
	counts := make([]int, len(buckets))
	for _, d := range dates {
		if i := slices.IndexFunc(buckets, func(b time.Time) bool { return b.Equal(u.trunc(d)) }); i >= 0 {
			counts[i]++
		}
	}
	top := slices.Max(counts)
	c := &htmlChart{Width: chartW, Height: chartH, Unit: u.name, Undated: undated}
	slot := float64(chartW-chartLeft-chartRight) / float64(len(buckets))
	plotH := float64(chartH - chartTop - chartBottom)
	every := (len(buckets) + chartLabels - 1) / chartLabels
	for i, b := range buckets {
		h := plotH * float64(counts[i]) / float64(top)
		x := float64(chartLeft) + slot*float64(i)
		bar := htmlBar{
			Label: b.Format(u.format), Count: counts[i],
			X: round1(x + slot*0.1), W: round1(slot * 0.8), H: round1(h), Y: round1(float64(chartTop) + plotH - h),
			CX: round1(x + slot/2), ShowLabel: i%every == 0,
		}
		bar.NY = round1(bar.Y - 4)
		bar.LY = float64(chartH - chartBottom + 14)
		c.Bars = append(c.Bars, bar)
	}
	return c
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }
