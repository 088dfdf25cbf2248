package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// htmlFixture is fixture() plus what an org-wide, merged report holds:
// locations in other repositories ("OWNER/NAME:path") and keys that
// entered history in other months.
func htmlFixture() *Report {
	r := fixture()
	r.Findings = append(r.Findings,
		finding.Finding{Fingerprint: fp('5'), Redacted: "atmx_stg_orgA…", Environment: "staging", Status: finding.Active,
			Locations: []finding.Location{
				{Source: finding.SourceGit, Kind: finding.KindBlob, Repo: "acme/web", Path: "deploy/.env", Line: 4, Column: 16,
					Commit: commitB, Author: "Fay Front <fay@example.com>", Date: "2025-11-20T09:00:00Z"},
				{Source: finding.SourceGit, Kind: finding.KindBlob, Repo: "acme/web", Path: "artifacts/web.zip!bundle/main.js", Line: 1, Column: 40,
					Commit: commitA, Author: "Fay Front <fay@example.com>", Date: "2026-01-10T09:00:00Z"},
			}},
		finding.Finding{Fingerprint: fp('6'), Redacted: "atmx_dev_orgB…", Environment: "development", Status: finding.Expired,
			Locations: []finding.Location{
				{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "acme/tools:scripts/seed.sh", Line: 9,
					Commit: commitA, Author: "Gus Ops <gus@example.com>", Date: "2026-03-02T00:00:00Z"},
			}},
	)
	return r
}

var htmlOpts = HTMLOptions{RepositoryURL: "https://github.com/acme/api", Version: "1.2.3"}

func writeHTML(t *testing.T, r *Report, o HTMLOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, r, o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHTMLGolden(t *testing.T) {
	golden(t, "report.html.golden", []byte(writeHTML(t, htmlFixture(), htmlOpts)))
	golden(t, "empty.html.golden", []byte(writeHTML(t, &Report{}, HTMLOptions{Version: "1.2.3"})))
}

// TestHTMLSelfContained: nothing in the page makes a request: no external
// script, style, font or image, and a Content-Security-Policy that allows
// only the page's own style and script, by hash.
func TestHTMLSelfContained(t *testing.T) {
	page := writeHTML(t, htmlFixture(), htmlOpts)
	for _, bad := range []string{"<link", " src=", "@import", "url(", "<iframe", "<img", "<object", "fetch(", "XMLHttpRequest"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	csp := regexp.MustCompile(`http-equiv="Content-Security-Policy" content="([^"]+)"`).FindStringSubmatch(page)
	if csp == nil {
		t.Fatal("no Content-Security-Policy")
	}
	policy := html.UnescapeString(csp[1])
	if !strings.HasPrefix(policy, "default-src 'none';") {
		t.Errorf("policy %q", policy)
	}
	for _, tag := range []string{"script", "style"} {
		m := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(page, -1)
		if len(m) != 1 {
			t.Fatalf("%d <%s> elements, want 1", len(m), tag)
		}
		h := sha256.Sum256([]byte(m[0][1]))
		if want := "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"; !strings.Contains(policy, tag+"-src "+want) {
			t.Errorf("the policy does not allow the page's own <%s> (%s): %s", tag, want, policy)
		}
	}
}

// TestHTMLLinks: lines, commits and org repositories link to GitHub; a
// member of an archive links to the archive, without a line.
func TestHTMLLinks(t *testing.T) {
	page := writeHTML(t, htmlFixture(), htmlOpts)
	for _, want := range []string{
		`href="https://github.com/acme/api/blob/` + commitA + `/config/settings.py#L2"`,
		`href="https://github.com/acme/api/commit/` + commitB + `"`,
		`href="https://github.com/acme/api/releases/tag/v1.0.0"`,
		`href="https://github.com/acme/web/blob/` + commitB + `/deploy/.env#L4"`,
		`href="https://github.com/acme/web/blob/` + commitA + `/artifacts/web.zip"`,
		`href="https://app.example.com/static/main.js?v=3"`,
		`<a href="https://github.com/acme/tools">acme/tools</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Without a repository URL, only org locations (which name theirs) link.
	local := writeHTML(t, fixture(), HTMLOptions{})
	if strings.Contains(local, "/blob/") || strings.Contains(local, "/commit/") {
		t.Error("links to GitHub without a known repository")
	}
}

// TestHTMLNoWholeKey puts a generated key into every text field a report
// has; no part of it beyond the redacted form may reach the page.
func TestHTMLNoWholeKey(t *testing.T) {
	key, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	k := "x" + key + "y"
	r := &Report{
		Findings: []finding.Finding{{
			Fingerprint: k, Redacted: k, Environment: k, Status: finding.Status(k), StatusReason: k, KeyID: k,
			Owner: &finding.Owner{Org: k, Team: k, Contact: k}, Products: []string{k}, CreatedAt: k, LastUsedAt: k,
			Locations: []finding.Location{
				{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "acme/" + k + ":" + k + "!" + k, Line: 1, Commit: k, Tag: k, Author: k, Date: k, Blob: k,
					Decoded: []string{k}, Original: &finding.Original{Path: k}, Allowed: k},
				{Source: finding.SourceURL, URL: "https://x.example/" + k},
				{Source: k, Kind: finding.KindTagMessage, Tag: k, Commit: k},
				{Source: finding.SourceGit, Kind: finding.KindCommitMessage, Commit: k, Author: k},
			},
		}},
		NearMisses: []finding.NearMiss{{Redacted: k, Location: finding.Location{Path: k}}},
		Skipped:    []finding.Skip{{Where: k, Reason: k}},
		Warnings:   []string{k},
	}
	page := writeHTML(t, r, HTMLOptions{Title: k, RepositoryURL: "https://github.com/acme/" + k, Generated: k, Version: k})
	tail := key[patterns.RedactedLen:]
	if strings.Contains(page, key) || strings.Contains(page, tail) {
		t.Fatalf("the HTML report holds a whole key (byte %d)", strings.Index(page, tail))
	}
	if strings.Contains(page, "<script>alert") {
		t.Fatal("unescaped")
	}
}

// TestHTMLEscapes: markup in report data stays text.
func TestHTMLEscapes(t *testing.T) {
	r := fixture()
	r.Findings[0].Locations[0].Path = `<script>alert(1)</script>.py`
	r.Findings[0].Locations[0].Author = `"><img src=x onerror=alert(1)>`
	r.Findings[1].Locations[1].URL = "javascript:alert(1)"
	page := writeHTML(t, r, htmlOpts)
	for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
}
