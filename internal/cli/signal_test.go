package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/patterns"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// buildBinary builds cmd/atomyx-guard once per test run: signals are a
// property of the process, so this is the one place a test runs it whole.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "atomyx-guard-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "atomyx-guard")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/atomyx/atomyx-guard/cmd/atomyx-guard").CombinedOutput()
		if err != nil {
			binErr = err
			t.Logf("go build: %s", out)
		}
	})
	if binErr != nil {
		t.Fatalf("build the binary: %v", binErr)
	}
	return binPath
}

// A signal while a scan waits on a source that never ends (stdin nobody
// closes) stops the scan: the report of what was found so far is written,
// marked partial with an "interrupted" warning, and the exit code says
// which signal: 130 for SIGINT (as shells report ^C), 2 for SIGTERM.
func TestSignalWritesPartialReport(t *testing.T) {
	bin := buildBinary(t)
	for _, tt := range []struct {
		sig  syscall.Signal
		want int
	}{{syscall.SIGTERM, ExitError}, {syscall.SIGINT, 130}} {
		t.Run(tt.sig.String(), func(t *testing.T) {
			key := testkit.NewKey(t, patterns.Production)
			out := filepath.Join(t.TempDir(), "report.json")
			cmd := exec.Command(bin, "stdin", "--format", "json", "--report", out, "--workers", "1")
			cmd.Env = append(os.Environ(), "ATOMYX_API_KEY=", "CI=1")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The key, then far more than a pipe buffers: once these
			// writes return, the process has started, installed its
			// handlers and scanned the window that holds the key.
			if _, err := io.WriteString(stdin, "K="+key+"\n"); err != nil {
				t.Fatal(err)
			}
			filler := []byte(strings.Repeat("filler text without secrets\n", 1<<15))
			for range 8 {
				if _, err := stdin.Write(filler); err != nil {
					t.Fatal(err)
				}
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			// stdin stays open: only the signal can end the scan. The
			// limit below detects a hang; it measures no speed.
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case err = <-waited:
			case <-time.After(time.Minute):
				_ = cmd.Process.Kill()
				<-waited
				t.Fatalf("still running a minute after %s", tt.sig)
			}
			stdin.Close()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.want {
				t.Fatalf("exit %d (%v), want %d; stderr: %s", code, cmd.ProcessState, tt.want, stderr.String())
			}
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("no report written: %v; stderr: %s", err, stderr.String())
			}
			noWholeKey(t, []string{key}, string(raw), stderr.String())
			var rep report.Report
			if err := json.Unmarshal(raw, &rep); err != nil {
				t.Fatalf("report: %v", err)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].Fingerprint != patterns.Fingerprint([]byte(key)) {
				t.Errorf("findings %+v: want the key found before the signal", rep.Findings)
			}
			if !rep.Stats.Partial || !strings.Contains(strings.Join(rep.Warnings, "\n"), "interrupted") {
				t.Errorf("partial %v, warnings %q: want a partial report that says it was interrupted", rep.Stats.Partial, rep.Warnings)
			}
		})
	}
}
