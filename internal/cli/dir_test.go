package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func makeTgz(t *testing.T, name string, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	zw.Close()
	return b.Bytes()
}

// locations maps each finding's redacted form to its "source:path" list.
func locations(t *testing.T, out string) map[string][]string {
	t.Helper()
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	m := map[string][]string{}
	for _, f := range rep.Findings {
		for _, l := range f.Locations {
			m[f.Fingerprint] = append(m[f.Fingerprint], l.Source+":"+l.Path)
		}
		slices.Sort(m[f.Fingerprint])
	}
	return m
}

func TestDirCommand(t *testing.T) {
	dir := t.TempDir()
	plain, packed, inGit, inMap := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging), testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Development)
	writeFile(t, filepath.Join(dir, ".gitignore"), []byte(".env\n"))
	writeFile(t, filepath.Join(dir, ".env"), []byte("ATOMYX_API_KEY="+plain+"\n"))
	writeFile(t, filepath.Join(dir, "vendor", "sdk.tgz"), makeTgz(t, "package/index.js", []byte("k='"+packed+"'\n")))
	writeFile(t, filepath.Join(dir, ".git", "config"), []byte(inGit))
	// A bundle whose source map beside it carries the original source.
	mapJSON, _ := json.Marshal(map[string]any{
		"version": 3, "sources": []string{"src/config.ts"}, "names": []string{}, "mappings": "AAAA",
		"sourcesContent": []string{"export const key = '" + inMap + "';\n"},
	})
	writeFile(t, filepath.Join(dir, "dist", "app.js"), []byte("console.log(1);\n//# sourceMappingURL=app.js.map\n"))
	writeFile(t, filepath.Join(dir, "dist", "app.js.map"), mapJSON)
	clean := t.TempDir()
	writeFile(t, filepath.Join(clean, "README"), []byte("nothing here\n"))

	fp := func(k string) string { return patterns.Fingerprint([]byte(k)) }
	t.Run("leaks", func(t *testing.T) {
		r := runCLI(t, nil, "dir", dir, "--format", "json")
		if r.code != ExitLeaks {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		noWholeKey(t, []string{plain, packed, inGit, inMap}, r.out, r.errOut)
		got := locations(t, r.out)
		want := map[string][]string{
			fp(plain):  {"file:.env"},
			fp(packed): {"file:vendor/sdk.tgz!package/index.js"},
		}
		for k, v := range want {
			if !slices.Equal(got[k], v) {
				t.Errorf("locations %v, want %v", got[k], v)
			}
		}
		if _, ok := got[fp(inGit)]; ok {
			t.Errorf("a key inside .git was reported by dir")
		}
		if m := got[fp(inMap)]; len(m) == 0 || !strings.HasPrefix(m[0], "file:dist/app.js.map") {
			t.Errorf("key in the source map: %v", m)
		}
		if !strings.Contains(r.errOut, ".git directory not scanned") {
			t.Errorf("stderr %q", r.errOut)
		}
	})
	t.Run("several roots keep their names", func(t *testing.T) {
		r := runCLI(t, nil, "dir", filepath.Join(dir, ".env"), clean, "--format", "json")
		if r.code != ExitLeaks {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		if got := locations(t, r.out)[fp(plain)]; !slices.Equal(got, []string{"file:" + filepath.ToSlash(filepath.Join(dir, ".env"))}) {
			t.Errorf("locations %v", got)
		}
	})
	t.Run("clean", func(t *testing.T) {
		if r := runCLI(t, nil, "dir", clean); r.code != ExitClean {
			t.Errorf("exit %d: %s%s", r.code, r.out, r.errOut)
		}
	})
	t.Run("no-expand", func(t *testing.T) {
		r := runCLI(t, nil, "dir", filepath.Join(dir, "vendor"), "--no-expand")
		if r.code != ExitClean {
			t.Errorf("exit %d: the tgz was opened with --no-expand", r.code)
		}
	})
	t.Run("missing path", func(t *testing.T) {
		r := runCLI(t, nil, "dir", filepath.Join(dir, "nope"))
		if r.code != ExitError || !strings.Contains(r.errOut, "no such file") {
			t.Errorf("exit %d: %s", r.code, r.errOut)
		}
	})
	t.Run("bad limits", func(t *testing.T) {
		if r := runCLI(t, nil, "dir", dir, "--max-archive-depth", "-1"); r.code != ExitError {
			t.Errorf("exit %d", r.code)
		}
	})
}

func TestDirBombIsSkippedNotSilent(t *testing.T) {
	dir := t.TempDir()
	before := testkit.NewKey(t, patterns.Production)
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(before + "\n"))
	io.Copy(zw, io.LimitReader(zeroes{}, 32<<20))
	zw.Close()
	writeFile(t, filepath.Join(dir, "huge.log.gz"), b.Bytes())
	r := runCLI(t, nil, "dir", dir, "--format", "json")
	if r.code != ExitLeaks {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || !rep.Stats.Partial {
		t.Errorf("findings %d, partial %v", len(rep.Findings), rep.Stats.Partial)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Where != "huge.log.gz!huge.log" || !strings.Contains(rep.Skipped[0].Reason, "zip bomb") {
		t.Errorf("skipped %+v", rep.Skipped)
	}
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestStdinCommand(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	tests := []struct {
		name  string
		in    []byte
		args  []string
		code  int
		where string
	}{
		{"plain", []byte("x=" + k), nil, ExitLeaks, ""},
		{"named", []byte("x=" + k), []string{"--name", "build.log"}, ExitLeaks, "build.log"},
		{"tgz by magic", makeTgz(t, "package/a.js", []byte(k)), nil, ExitLeaks, "!package/a.js"},
		{"tgz named", makeTgz(t, "package/a.js", []byte(k)), []string{"--name", "pkg.tgz"}, ExitLeaks, "pkg.tgz!package/a.js"},
		{"clean", []byte("nothing"), nil, ExitClean, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			sys := &IO{In: bytes.NewReader(tt.in), Out: &out, Err: &errOut,
				Getenv: func(string) string { return "" }, IsTerminal: func(io.Writer) bool { return false }, Getwd: t.TempDir()}
			code := Run(context.Background(), append([]string{"stdin", "--format", "json"}, tt.args...), sys)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errOut.String())
			}
			noWholeKey(t, []string{k}, out.String(), errOut.String())
			if tt.code != ExitLeaks {
				return
			}
			var rep report.Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			l := rep.Findings[0].Locations[0]
			if l.Source != finding.SourceStdin || l.Path != tt.where {
				t.Errorf("location %+v, want stdin %q", l, tt.where)
			}
		})
	}
}
