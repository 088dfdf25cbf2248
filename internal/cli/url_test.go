package cli

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

func TestURLCommand(t *testing.T) {
	key := testkit.NewKey(t, patterns.Production)
	mapKey := testkit.NewKey(t, patterns.Staging)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><script src="/app.js"></script><script src="/gone.js"></script>`))
	})
	mux.HandleFunc("/app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Header().Set("SourceMap", "/maps/app.js.map")
		w.Write([]byte(`const k="` + key + `";`))
	})
	mux.HandleFunc("/maps/app.js.map", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":3,"sources":["src/env.ts"],"sourcesContent":["\nexport const k = '` + mapKey + `';\n"],"mappings":"AACA"}`))
	})
	mux.HandleFunc("/gone.js", http.NotFound)
	site := httptest.NewServer(mux)
	defer site.Close()
	clean := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<p>nothing</p>")) }))
	defer clean.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	defer dead.Close()

	dir := t.TempDir()
	reportPath := filepath.Join(dir, "report.json")
	res := runCLI(t, nil, "url", "--no-progress", "--format", "json", "--report", reportPath, site.URL+"/")
	if res.code != ExitLeaks {
		t.Fatalf("exit %d, want %d; stderr %s", res.code, ExitLeaks, res.errOut)
	}
	noWholeKey(t, []string{key, mapKey}, res.out, res.errOut)
	rep := readReport(t, reportPath)
	want := map[string]finding.Location{
		patterns.Fingerprint([]byte(key)): {Source: finding.SourceURL, URL: site.URL + "/app.js", Line: 1, Column: 10,
			Original: &finding.Original{Path: "src/env.ts", Line: 2, Column: 1}},
		patterns.Fingerprint([]byte(mapKey)): {Source: finding.SourceURL, URL: site.URL + "/maps/app.js.map", Line: 1,
			Original: &finding.Original{Path: "src/env.ts", Line: 2, Column: 19}},
	}
	if len(rep.Findings) != len(want) {
		t.Fatalf("%d findings, want %d", len(rep.Findings), len(want))
	}
	for _, f := range rep.Findings {
		w, ok := want[f.Fingerprint]
		if !ok || len(f.Locations) != 1 {
			t.Fatalf("finding %s with %d locations", f.Redacted, len(f.Locations))
		}
		l := f.Locations[0]
		if l.Source != w.Source || l.URL != w.URL || l.Line != w.Line || (w.Column != 0 && l.Column != w.Column) ||
			l.Original == nil || *l.Original != *w.Original {
			t.Errorf("%s at %+v (original %+v), want %+v (original %+v)", f.Redacted, l, l.Original, w, w.Original)
		}
	}
	if rep.Stats.URLs != 3 || !rep.Stats.Partial {
		t.Errorf("stats %+v, want 3 URLs and partial (the 404)", rep.Stats)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Where != site.URL+"/gone.js" || !strings.Contains(rep.Skipped[0].Reason, "404") {
		t.Errorf("skipped %+v", rep.Skipped)
	}

	// --no-expand: the bundle and its source map (which the crawl fetches
	// as a page resource) are scanned as plain bytes, never mapped back.
	res = runCLI(t, nil, "url", "--no-progress", "--no-expand", "--format", "json", "--report", reportPath, site.URL+"/")
	if res.code != ExitLeaks {
		t.Fatalf("--no-expand: exit %d, want %d; stderr %s", res.code, ExitLeaks, res.errOut)
	}
	for _, f := range readReport(t, reportPath).Findings {
		for _, l := range f.Locations {
			if l.Original != nil {
				t.Errorf("--no-expand: %s at %s has a source-map position %+v: the bundle was expanded", f.Redacted, l.URL, *l.Original)
			}
		}
	}

	if res := runCLI(t, nil, "url", "--no-progress", clean.URL); res.code != ExitClean {
		t.Errorf("clean site: exit %d, stderr %s", res.code, res.errOut)
	}
	res = runCLI(t, nil, "url", "--no-progress", dead.URL)
	if res.code != ExitError || !strings.Contains(res.out+res.errOut, "404") || !strings.Contains(res.errOut, "nothing could be fetched") {
		t.Errorf("dead site: exit %d, stderr %s", res.code, res.errOut)
	}
	for _, args := range [][]string{{"url"}, {"url", "ftp://x.test/"}, {"url", "--concurrency", "0", clean.URL}} {
		if res := runCLI(t, nil, args...); res.code != ExitError {
			t.Errorf("%q: exit %d, want %d", args, res.code, ExitError)
		}
	}
}

// A crawl that fetched nothing exits 2 and still writes its report, in
// the format asked for: it says why each URL failed.
func TestURLNothingFetchedWritesReport(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	defer dead.Close()
	reportPath := filepath.Join(t.TempDir(), "report.json")
	res := runCLI(t, nil, "url", "--no-progress", "--format", "json", "--report", reportPath, dead.URL+"/")
	if res.code != ExitError || !strings.Contains(res.errOut, "nothing could be fetched") {
		t.Fatalf("exit %d, stderr %q; want 2 and the reason", res.code, res.errOut)
	}
	rep := readReport(t, reportPath)
	if !rep.Stats.Partial || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Reason, "404") ||
		!strings.Contains(strings.Join(rep.Warnings, "\n"), "nothing could be fetched") {
		t.Errorf("report: partial %v, skipped %+v, warnings %q", rep.Stats.Partial, rep.Skipped, rep.Warnings)
	}
	// JSON on stdout too.
	res = runCLI(t, nil, "url", "--no-progress", "--format", "json", dead.URL+"/")
	if res.code != ExitError || !strings.HasPrefix(strings.TrimSpace(res.out), "{") {
		t.Errorf("exit %d, stdout %q: want 2 and the JSON report", res.code, res.out)
	}
}
