package websource

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
)

// pages serves a page at / that loads n scripts and links to n pages, and
// redirects /away to another host.
func pages(t *testing.T, n int) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/p"):
			w.Header().Set("Content-Type", "text/html")
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, `<script src="/s%d.js"></script><a href="/p%d.html">p</a>`, i, i)
			}
			b.WriteString(`<script src="/away"></script><script src="/enc.js"></script>`)
			w.Write([]byte(b.String()))
		case r.URL.Path == "/away":
			http.Redirect(w, r, "http://elsewhere.invalid/x.js", http.StatusMovedPermanently)
		case r.URL.Path == "/enc.js":
			w.Header().Set("Content-Encoding", "compress")
			w.Write([]byte("x"))
		default:
			w.Write([]byte("var x=1;"))
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestCrawlLimits(t *testing.T) {
	srv := pages(t, 5)
	tests := []struct {
		name    string
		opt     Options
		fetched int64
		skips   []string // reasons that must appear
	}{
		// The page and its 5 scripts; /away and /enc.js end in skips.
		{"seed only", Options{}, 1 + 5, []string{"redirect to http://elsewhere.invalid/x.js not followed", `unsupported Content-Encoding "compress"`}},
		{"file limit", Options{MaxFiles: 3}, 3, []string{"file limit reached: 5 more URLs not fetched"}},
		{"depth and page limit", Options{Depth: 1, MaxPages: 3}, 1 + 5 + 2, []string{"page limit reached: 3 more URLs not fetched"}},
		{"total bytes", Options{MaxTotalBytes: 10}, 0, []string{"total byte limit reached"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New([]string{srv.URL + "/"}, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu      sync.Mutex
				reasons []string
			)
			c.OnSkip = func(s finding.Skip) { mu.Lock(); reasons = append(reasons, s.Reason); mu.Unlock() }
			var items int
			err = c.Items(context.Background(), func(scanner.Item) error { items++; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if tc.fetched > 0 && c.Fetched() != tc.fetched {
				t.Errorf("fetched %d, want %d", c.Fetched(), tc.fetched)
			}
			for _, want := range tc.skips {
				if !strings.Contains(strings.Join(reasons, "|"), want) {
					t.Errorf("skips %q, want one containing %q", reasons, want)
				}
			}
		})
	}
}

func TestCrawlStopsOnEmitError(t *testing.T) {
	srv := pages(t, 20)
	c, err := New([]string{srv.URL + "/"}, Options{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	err = c.Items(context.Background(), func(scanner.Item) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Items = %v after %d emits, want the emit error after 1", err, n)
	}
}

func TestCrawlTimeLimit(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<script src="/slow1.js"></script><script src="/slow2.js"></script>`))
	})
	mux.HandleFunc("/slow1.js", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/slow2.js", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := New([]string{srv.URL}, Options{MaxTime: 300 * time.Millisecond, Timeout: time.Minute, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		reasons []string
	)
	c.OnSkip = func(s finding.Skip) { mu.Lock(); reasons = append(reasons, s.Reason); mu.Unlock() }
	if err := c.Items(context.Background(), func(scanner.Item) error { return nil }); err != nil {
		t.Fatalf("a crawl time limit is not an error: %v", err)
	}
	if got := strings.Join(reasons, "|"); !strings.Contains(got, "time limit reached: 2 more URLs not fetched") {
		t.Errorf("skips %q", got)
	}
}

func TestNewRejects(t *testing.T) {
	for _, s := range []string{"ftp://x.test/", "/relative", "http://", "::"} {
		if _, err := New([]string{s}, Options{}); err == nil {
			t.Errorf("New(%q) accepted", s)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New with no seeds accepted")
	}
}

func TestDecode(t *testing.T) {
	const text = "var key = 1;"
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestSpeed)
	fw.Write([]byte(text))
	fw.Close()
	tests := []struct {
		enc  string
		body []byte
		err  string
	}{
		{"", []byte(text), ""},
		{"identity", []byte(text), ""},
		{"gzip", compress(t, "gzip", text), ""},
		{"br", compress(t, "br", text), ""},
		{"deflate", compress(t, "deflate", text), ""},
		{"deflate", raw.Bytes(), ""}, // raw deflate, as some servers send it
		{"gzip, br", compress(t, "br", string(compress(t, "gzip", text))), ""},
		{"gzip", []byte("not gzip"), "gzip"},
		{"zstd2", []byte(text), "unsupported"},
	}
	for _, tc := range tests {
		r, err := decode(bytes.NewReader(tc.body), tc.enc)
		var got []byte
		if err == nil {
			got, err = io.ReadAll(r)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("decode %q: err %v, want %q", tc.enc, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != text {
			t.Errorf("decode %q = %q, %v", tc.enc, got, err)
		}
	}
}

// A seed that redirects to another host (http://x to https://www.x) takes
// the crawl there; a script's redirect to another host does not.
func TestSeedRedirectJoinsTheCrawl(t *testing.T) {
	key := testkit.NewKey(t, patterns.Production)
	target := http.NewServeMux()
	target.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<head><script src="/app.js"></script></head>`)) // no Content-Type, no doctype
	})
	target.HandleFunc("/app.js", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`var k="` + key + `";`)) })
	www := httptest.NewServer(target)
	defer www.Close()
	bare := httptest.NewServer(http.RedirectHandler(www.URL+"/", http.StatusMovedPermanently))
	defer bare.Close()

	set, skips := crawl(t, Options{}, bare.URL)
	if set.Len() != 1 || len(skips) != 0 {
		t.Errorf("found %d keys, skips %+v; want the key behind the redirect", set.Len(), skips)
	}
}
