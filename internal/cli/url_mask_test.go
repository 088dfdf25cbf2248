package cli

import (
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

// A key percent-encoded in a crawled URL (a link, the seed itself) must not
// reach the skip list, the report or stderr: the mask sees through the
// encoding the detector sees through.
func TestURLSkipsMaskEncodedKeys(t *testing.T) {
	key := testkit.NewKey(t, patterns.Production)
	seedKey := testkit.NewKey(t, patterns.Production)
	enc := func(k string) string { return strings.ReplaceAll(k, "_", "%5F") }
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><script src="/cb/` + enc(key) + `.js"></script><script src="/x.js?t=` + enc(key) + `"></script>`))
	})
	site := httptest.NewServer(mux)
	defer site.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	defer dead.Close()

	dir := t.TempDir()
	for _, format := range []string{"text", "json", "sarif"} {
		report := filepath.Join(dir, "report."+format)
		res := runCLI(t, nil, "url", "--no-progress", "--format", format, "--report", report, site.URL+"/")
		data, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "404") && format != "sarif" {
			t.Errorf("%s: the skips are not in the report:\n%s", format, data)
		}
		noWholeKey(t, []string{key}, res.out, res.errOut, string(data))
	}
	// Nothing fetched: the report, with its skips, is still written.
	res := runCLI(t, nil, "url", "--no-progress", dead.URL+"/login?token="+enc(seedKey))
	if res.code != ExitError || !strings.Contains(res.out+res.errOut, "404") {
		t.Fatalf("dead seed: exit %d, stderr %s", res.code, res.errOut)
	}
	noWholeKey(t, []string{seedKey}, res.out, res.errOut)
}

// A redirect to the cloud metadata address is refused before any
// connection; the flag is named in the reason.
func TestURLRefusesMetadataRedirect(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/meta-data/", http.StatusFound))
	defer srv.Close()
	res := runCLI(t, nil, "url", "--no-progress", srv.URL+"/")
	all := res.out + res.errOut
	if res.code != ExitError || !strings.Contains(all, "link-local") || !strings.Contains(all, "--allow-private-addresses") {
		t.Errorf("exit %d, stderr %s", res.code, res.errOut)
	}
}
