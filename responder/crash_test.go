package responder_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// The crash test re-executes the test binary as a responder process that
// SIGKILLs itself right after committing its Nth journal step.
const childEnv = "ATOMYX_GUARD_RESPONDER_CHILD"

type childSpec struct {
	VaultURL, Admin, GitHubURL, Journal, Findings string
	CrashAfter                                    int
}

// child is the responder process; its exit code: 0 done, 3 error.
func child() int {
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	data, err := os.ReadFile(spec.Findings)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	var fs []finding.Finding
	if err := json.Unmarshal(data, &fs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	vc, err := vault.New(vault.Config{BaseURL: spec.VaultURL, APIKey: spec.Admin, Timeout: 5 * time.Second, Backoff: time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	gh, err := ghapi.New(ghapi.Config{Token: "gh-token", BaseURL: spec.GitHubURL, MutationSpacing: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	j, err := journal.Open(spec.Journal, journal.Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer j.Close()
	commits := 0
	j.OnCommit = func(fp string, step journal.Step) {
		commits++
		if commits == spec.CrashAfter {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	r, err := responder.New(responder.Config{Vault: vc, GitHub: gh, Journal: j,
		Policy:    rotateTo("immediately", repoSink, envSink),
		IssueRepo: issueRepo, Labels: []string{"security"}, Repo: "acme/app", Out: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if _, err := r.Run(context.Background(), fs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

func runChild(t *testing.T, spec childSpec) (killed bool, out []byte) {
	t.Helper()
	b, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, out
		}
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	return false, out
}

// TestCrashAfterEveryStep kills the responder with SIGKILL right after each
// journal commit of a rotation (detected, reissued, delivered ×2,
// verified, revoked, issue opened, reported), reruns it, and checks that
// the end state is that of an uninterrupted run.
func TestCrashAfterEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	const steps = 8
	for n := 1; n <= steps+1; n++ {
		t.Run("after commit "+strconv.Itoa(n), func(t *testing.T) {
			w := newWorld(t, server.Faults{})
			leaked, ik, f := w.leak(t, patterns.Production)
			dir := t.TempDir()
			spec := childSpec{VaultURL: w.VaultURL, Admin: w.Admin, GitHubURL: w.GH.URL(),
				Journal: filepath.Join(dir, "journal.db"), Findings: filepath.Join(dir, "findings.json"), CrashAfter: n}
			writeFindings(t, spec.Findings, []finding.Finding{f})
			killed, out1 := runChild(t, spec)
			if killed != (n <= steps) {
				t.Fatalf("killed=%v after commit %d of %d", killed, n, steps)
			}
			spec.CrashAfter = 0
			_, out2 := runChild(t, spec)
			// And once more: a finished incident is left alone.
			w.GH.ResetRequests()
			_, out3 := runChild(t, spec)
			for _, rq := range w.GH.Requests() {
				if rq.Mutating() {
					t.Errorf("a run after the end wrote to GitHub: %s %s", rq.Method, rq.Path)
				}
			}
			j, err := journal.Open(spec.Journal, journal.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			in, ok, err := j.Get(f.Fingerprint)
			j.Close()
			if err != nil || !ok || !in.Done() || len(in.Delivered) != 2 {
				t.Fatalf("journal after the rerun: %+v %v", in, err)
			}
			open, closed := w.leakIssues(f.Fingerprint)
			if len(closed) != 0 || len(open) != 1 || len(open[0].Comments) != 0 {
				t.Fatalf("issues: %d open, %d closed, comments %q", len(open), len(closed), open[0].Comments)
			}
			checkRotated(t, w, leaked, ik, string(out1)+string(out2)+string(out3), []ghapi.SecretTarget{repoSink, envSink}, spec.Journal)
		})
	}
}
