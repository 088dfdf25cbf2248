package websource

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/bundle"
)

func sourceMap(t testing.TB, sources []string, contents []string, mappings string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"version": 3, "sources": sources, "sourcesContent": contents, "names": []string{}, "mappings": mappings})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compress(t testing.TB, enc string, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch enc {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "br":
		w = brotli.NewWriter(&b)
	case "deflate":
		w = zlib.NewWriter(&b)
	}
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// site writes a built site with a key in each place a browser can fetch,
// and decoys, into a temporary directory, and serves it with hostile
// endpoints beside. It returns the server and the keys by place.
func site(t *testing.T, maxBytes int64) (*httptest.Server, map[string]string) {
	t.Helper()
	keys := map[string]string{}
	for _, place := range []string{"inline", "external", "chunk", "map", "inlinemap", "eval", "br", "gzip", "deflate", "css", "huge", "page2"} {
		keys[place] = testkit.NewKey(t, patterns.Production)
	}
	bad := keys["inline"][:46] + string("01"[map[bool]int{true: 1}[keys["inline"][46] == '0']])
	upper := func(k string) string { return strings.ToUpper(k[:9]) + k[9:] }(testkit.NewKey(t, patterns.Production)) // not a key: case counts

	dir := t.TempDir()
	files := map[string]string{
		"index.html": `<!doctype html><html><head>
<script type="module" src="/assets/app.js"></script>
<link rel="modulepreload" href="/assets/vendor.js">
<link rel="preload" as="script" href="/assets/wp.js">
<link rel="stylesheet" href="/assets/site.css">
<script src="/assets/br.js"></script><script src="/assets/gz.js"></script><script src="/assets/df.js"></script>
<script src="/missing.js"></script><script src="/hang.js"></script><script src="/loop.js"></script><script src="/huge.js"></script>
<script src="https://elsewhere.invalid/x.js"></script>
<script>window.cfg = {apiKey: "` + keys["inline"] + `"};</script>
</head><body><p>` + bad + `</p><a href="/page2.html">next</a></body></html>`,
		"page2.html": `<html><body><script>var k="` + keys["page2"] + `"</script></body></html>`,
		"assets/app.js": `import{x as y}from"./vendor.js";const k="` + keys["external"] + `",d="` + upper +
			`";document.querySelector("#b").onclick=()=>import("./chunk-lazy-9f3a.js");` + "\n//# sourceMappingURL=app.js.map\n",
		"assets/chunk-lazy-9f3a.js": `export const lazy={token:"` + keys["chunk"] + `"};`,
		"assets/app.js.map": sourceMap(t, []string{"webpack://shop/src/config.ts"},
			[]string{"// config\nexport const region = 'eu';\n\nexport const key = '" + keys["map"] + "';\n"}, "AAAA"),
		"assets/vendor.js": "export const x=1;\n//# sourceMappingURL=data:application/json;base64," + base64.StdEncoding.EncodeToString([]byte(
			sourceMap(t, []string{"src/vendor.ts"}, []string{"export const x = 1;\nconst unused = \"" + keys["inlinemap"] + "\";\n"}, "AAAA"))),
		"assets/wp.js":        `(()=>{var m={"./src/secrets.js":(()=>{eval("const a = 1;\nconst key = \"` + keys["eval"] + `\";\n\n//# sourceURL=webpack://shop/./src/secrets.js?");})};})();`,
		"assets/site.css":     ".hero{background:url(\"/img.png?key=" + keys["css"] + "\")}\n/*# sourceMappingURL=site.css.map */\n",
		"assets/site.css.map": `{"version":3,"sources":["a.scss"],"mappings":"AAAA`,
	}
	encoded := map[string][2]string{ // path -> encoding, content
		"assets/br.js": {"br", `var brKey="` + keys["br"] + `";`},
		"assets/gz.js": {"gzip", `var gzKey="` + keys["gzip"] + `";`},
		"assets/df.js": {"deflate", `var dfKey="` + keys["deflate"] + `";`},
	}
	for p, c := range files {
		write(t, filepath.Join(dir, p), []byte(c))
	}
	for p, ec := range encoded {
		write(t, filepath.Join(dir, p+"."+ec[0]), compress(t, ec[0], ec[1]))
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/hang.js", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/loop.js", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2.js", http.StatusFound) })
	mux.HandleFunc("/loop2.js", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop.js", http.StatusFound) })
	mux.HandleFunc("/huge.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write([]byte(`var early="` + keys["huge"] + `";`))
		chunk := bytes.Repeat([]byte("/* padding */"), 1024)
		for n := int64(0); n < 4*maxBytes; n += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == "" {
			p = "index.html"
		}
		if ec, ok := encoded[p]; ok {
			if !strings.Contains(r.Header.Get("Accept-Encoding"), ec[0]) {
				http.Error(w, "encoding not accepted", http.StatusNotAcceptable)
				return
			}
			w.Header().Set("Content-Encoding", ec[0])
			w.Header().Set("Content-Type", "application/javascript")
			p += "." + ec[0]
		}
		http.ServeFile(w, r, filepath.Join(dir, filepath.FromSlash(p)))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, keys
}

func write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// crawl scans seeds with the Engine and the bundle Expander, as the url
// command does.
func crawl(t *testing.T, opt Options, seeds ...string) (*finding.Set, []finding.Skip) {
	t.Helper()
	c, err := New(seeds, opt)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		skips []finding.Skip
	)
	onSkip := func(s finding.Skip) {
		mu.Lock()
		skips = append(skips, s)
		mu.Unlock()
	}
	c.OnSkip = onSkip
	set := finding.NewSet()
	eng := &scanner.Engine{
		Expanders: []scanner.Expander{&bundle.Expander{LoadMap: c.LoadMap, Kind: c.Kind, MapRef: c.MapRef}},
		OnSkip:    onSkip,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := eng.Run(ctx, c, set); err != nil {
		t.Fatal(err)
	}
	return set, skips
}

func TestCrawlSite(t *testing.T) {
	const maxBytes = 64 << 10
	srv, keys := site(t, maxBytes)
	set, skips := crawl(t, Options{MaxBytes: maxBytes, Timeout: 500 * time.Millisecond, Depth: 1}, srv.URL+"/")

	u := func(p string) string { return srv.URL + p }
	tests := []struct {
		place string
		url   string
		orig  *finding.Original
	}{
		{"inline", u("/"), nil},
		{"page2", u("/page2.html"), nil},
		// app.js's map maps all of line 1 to config.ts 1:1 ("AAAA").
		{"external", u("/assets/app.js"), &finding.Original{Path: "webpack://shop/src/config.ts", Line: 1, Column: 1}},
		{"chunk", u("/assets/chunk-lazy-9f3a.js"), nil},
		{"map", u("/assets/app.js.map"), &finding.Original{Path: "webpack://shop/src/config.ts", Line: 4, Column: 21}},
		{"inlinemap", u("/assets/vendor.js"), &finding.Original{Path: "src/vendor.ts", Line: 2, Column: 17}},
		{"eval", u("/assets/wp.js"), &finding.Original{Path: "webpack://shop/./src/secrets.js", Line: 2}},
		{"br", u("/assets/br.js"), nil},
		{"gzip", u("/assets/gz.js"), nil},
		{"deflate", u("/assets/df.js"), nil},
		{"css", u("/assets/site.css"), nil},
		{"huge", u("/huge.js"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.place, func(t *testing.T) {
			fp := patterns.Fingerprint([]byte(keys[tc.place]))
			var locs []finding.Location
			for _, f := range set.Findings() {
				if f.Fingerprint == fp {
					locs = f.Locations
				}
			}
			for _, l := range locs {
				if l.Source == finding.SourceURL && l.URL == tc.url && l.Line > 0 &&
					(tc.orig == nil && l.Original == nil || tc.orig != nil && l.Original != nil && *l.Original == *tc.orig) {
					return
				}
			}
			var got []string
			for _, l := range locs {
				s := fmt.Sprintf("%s:%d", l.URL, l.Line)
				if l.Original != nil {
					s += fmt.Sprintf(" <- %+v", *l.Original)
				}
				got = append(got, s)
			}
			t.Errorf("key in %s: locations %q, want at %s with origin %+v", tc.place, got, tc.url, tc.orig)
		})
	}
	if got, want := set.Len(), len(tests); got != want {
		t.Errorf("found %d keys, want %d: a decoy was reported or a key missed", got, want)
	}

	for _, w := range []struct{ where, reason string }{
		{u("/missing.js"), "HTTP 404"},
		{u("/hang.js"), "timed out"},
		{u("/loop.js"), "redirect loop"},
		{u("/huge.js"), "exceeds the 65536-byte limit"},
		{u("/assets/site.css.map"), "source map"},
	} {
		found := false
		for _, s := range skips {
			found = found || s.Where == w.where && strings.Contains(s.Reason, w.reason)
		}
		if !found {
			t.Errorf("no skip of %s for %q; skips: %+v", w.where, w.reason, skips)
		}
	}
	for _, s := range skips {
		if strings.Contains(s.Where, "elsewhere.invalid") {
			t.Errorf("fetched a host not allowed: %+v", s)
		}
	}
}
