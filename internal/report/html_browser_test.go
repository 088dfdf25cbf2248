package report

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// chromium returns a headless Chromium to test the HTML report in, or
// skips: the browser tests need one (Debian: apt-get install chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH (apt-get install chromium, or set CHROMIUM): the HTML report's browser test is skipped")
	return ""
}

// browse runs headless Chromium on the page with extra arguments (what to
// dump or capture); no network, no profile, no sandbox (CI containers).
func browse(t *testing.T, bin, page, fragment string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u := (&url.URL{Scheme: "file", Path: page, Fragment: fragment}).String()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, u)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// renderedRow is one row of the keys table as the browser left it.
type renderedRow struct {
	status, repo string
	hidden       bool
	cells        map[string]string // data-col → text
	links        []string
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// parseRendered reads the dumped DOM: whether the page's script ran
// (body data-ready) and the keys table's rows in their displayed order.
func parseRendered(t *testing.T, dom string) (ready bool, rows []renderedRow) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	var inKeys bool
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "body":
				v, _ := attr(n, "data-ready")
				ready = v == "1"
			case "table":
				id, _ := attr(n, "id")
				inKeys = id == "keys"
			case "tr":
				if _, ok := attr(n, "data-i"); ok && inKeys {
					r := renderedRow{cells: map[string]string{}}
					r.status, _ = attr(n, "data-status")
					r.repo, _ = attr(n, "data-repo")
					_, r.hidden = attr(n, "hidden")
					var cells func(*html.Node)
					cells = func(c *html.Node) {
						if c.Type == html.ElementNode && c.Data == "td" {
							col, _ := attr(c, "data-col")
							r.cells[col] = text(c)
						}
						if c.Type == html.ElementNode && c.Data == "a" {
							href, _ := attr(c, "href")
							r.links = append(r.links, href)
						}
						for k := c.FirstChild; k != nil; k = k.NextSibling {
							cells(k)
						}
					}
					cells(n)
					rows = append(rows, r)
					return
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return ready, rows
}

func visible(rows []renderedRow) []renderedRow {
	return slices.DeleteFunc(slices.Clone(rows), func(r renderedRow) bool { return r.hidden })
}

// TestHTMLInBrowser opens the report in headless Chromium and checks what
// a reader sees: the script runs under the page's Content-Security-Policy,
// every location is a row, a filter or sort in the URL fragment applies,
// and a row links to its line on GitHub. It leaves a screenshot (and,
// with -update, refreshes docs/html-report.png for the README).
func TestHTMLInBrowser(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	rep := htmlFixture()
	if err := os.WriteFile(page, []byte(writeHTML(t, rep, htmlOpts)), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("all rows", func(t *testing.T) {
		ready, rows := parseRendered(t, browse(t, bin, page, "", "--dump-dom"))
		if !ready {
			t.Fatal("the page's script did not run (blocked by its own Content-Security-Policy?)")
		}
		if len(visible(rows)) != rep.Locations() {
			t.Errorf("%d visible rows, want one per location (%d)", len(visible(rows)), rep.Locations())
		}
	})
	t.Run("status filter", func(t *testing.T) {
		_, rows := parseRendered(t, browse(t, bin, page, "status=active", "--dump-dom"))
		want := 0
		for _, f := range rep.Findings {
			if f.Status == "active" {
				want += len(f.Locations)
			}
		}
		vis := visible(rows)
		if len(vis) != want || want == 0 {
			t.Errorf("%d rows shown for status=active, want %d", len(vis), want)
		}
		for _, r := range vis {
			if r.status != "active" {
				t.Errorf("row with status %s shown", r.status)
			}
		}
	})
	t.Run("text filter and link", func(t *testing.T) {
		_, rows := parseRendered(t, browse(t, bin, page, "q=deploy", "--dump-dom"))
		vis := visible(rows)
		if len(vis) != 1 || vis[0].cells["where"] != "deploy/.env:4" {
			t.Fatalf("q=deploy shows %+v", vis)
		}
		want := "https://github.com/acme/web/blob/" + commitB + "/deploy/.env#L4"
		if !slices.Contains(vis[0].links, want) {
			t.Errorf("row links %v, want %s", vis[0].links, want)
		}
	})
	t.Run("repository filter", func(t *testing.T) {
		_, rows := parseRendered(t, browse(t, bin, page, "repo=acme/web", "--dump-dom"))
		if vis := visible(rows); len(vis) != 2 || vis[0].repo != "acme/web" || vis[1].repo != "acme/web" {
			t.Errorf("repo=acme/web shows %+v", vis)
		}
	})
	t.Run("sort by date", func(t *testing.T) {
		_, rows := parseRendered(t, browse(t, bin, page, "sort=date&dir=desc", "--dump-dom"))
		var dates []string
		for _, r := range rows {
			if d := r.cells["date"]; d != "" {
				dates = append(dates, d)
			}
		}
		if len(dates) < 3 || !slices.IsSortedFunc(dates, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Errorf("dates after sort=date&dir=desc: %v", dates)
		}
	})
	t.Run("screenshot", func(t *testing.T) {
		// Outside the test's temporary directory, so that the path logged
		// can be opened after the test.
		shot := filepath.Join(os.TempDir(), "atomyx-guard-html-report.png")
		browse(t, bin, page, "", "--hide-scrollbars", "--window-size=1280,1100", "--screenshot="+shot)
		data, err := os.ReadFile(shot)
		if err != nil || len(data) < 1000 || string(data[1:4]) != "PNG" {
			t.Fatalf("no screenshot: %v", err)
		}
		t.Logf("screenshot: %s", shot)
		if *update {
			if err := os.WriteFile(filepath.Join("..", "..", "docs", "html-report.png"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}
