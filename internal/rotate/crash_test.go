package rotate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/rotate"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// The crash test re-executes the test binary as a `rotate --apply`
// process that SIGKILLs itself right after committing its Nth journal
// step, as the responder's crash test does.
const childEnv = "ATOMYX_GUARD_ROTATE_CHILD"

type childSpec struct {
	VaultURL, Admin, GitHubURL, Journal, Policy string
	CrashAfter                                  int
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child is the rotating process; its exit code: 0 done, 3 error.
func child() int {
	var spec childSpec
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 3 }
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &spec); err != nil {
		return fail(err)
	}
	vc, err := vault.New(vault.Config{BaseURL: spec.VaultURL, APIKey: spec.Admin, Timeout: 5 * time.Second, Backoff: time.Millisecond})
	if err != nil {
		return fail(err)
	}
	gh, err := ghapi.New(ghapi.Config{Token: "gh-token", BaseURL: spec.GitHubURL, MutationSpacing: -1})
	if err != nil {
		return fail(err)
	}
	cfg, err := config.Parse([]byte(spec.Policy))
	if err != nil {
		return fail(err)
	}
	j, err := journal.Open(spec.Journal, journal.Options{Timeout: 10 * time.Second})
	if err != nil {
		return fail(err)
	}
	defer j.Close()
	commits := 0
	j.OnCommit = func(string, journal.Step) {
		commits++
		if commits == spec.CrashAfter {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	r, err := rotate.New(rotate.Options{Org: "acme", Policy: cfg.Rotate, Vault: vc, GitHub: gh, Journal: j, IssueRepo: issueRepo})
	if err != nil {
		return fail(err)
	}
	p, err := r.Plan(context.Background(), false)
	if err != nil {
		return fail(err)
	}
	if err := r.Apply(context.Background(), p, false); err != nil {
		return fail(err)
	}
	return 0
}

func runChild(t *testing.T, spec childSpec) (killed bool) {
	t.Helper()
	b, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	out, err := cmd.CombinedOutput()
	if err == nil {
		return false
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	t.Fatalf("child: %v\n%s", err, out)
	return false
}

// TestCrashAtEachJournalStep kills a rotation after each of its journal
// commits (scheduled, reissued, delivered ×2, verified, revoked), then
// runs again: one replacement, in both sinks, and the old key revoked.
func TestCrashAtEachJournalStep(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	orgSink := ghapi.SecretTarget{Kind: ghapi.KindOrgSecret, Org: "acme", Name: "ATOMYX_API_KEY"}
	const steps = 6
	for crash := 1; crash <= steps; crash++ {
		t.Run(fmt.Sprintf("after-commit-%d", crash), func(t *testing.T) {
			w := newWorld(t)
			old := w.issue("production", "payments", 100*day)
			spec := childSpec{VaultURL: w.VaultURL, Admin: w.Admin, GitHubURL: w.GH.URL(), Journal: t.TempDir() + "/journal.db",
				Policy:     fmt.Sprintf("[[rotate.keys]]\nkey_id = %q\ndeliver = [%q, %q]\nrevoke_old = \"immediately\"\n", old.KeyID, appSink.String(), orgSink.String()),
				CrashAfter: crash}
			if !runChild(t, spec) {
				t.Fatalf("the child was not killed after commit %d", crash)
			}
			spec.CrashAfter = 0
			if runChild(t, spec) {
				t.Fatal("the resuming child was killed")
			}
			// One more run changes nothing.
			spec.CrashAfter = 0
			runChild(t, spec)

			active := w.active()
			if len(active) != 1 || active[old.KeyID] {
				t.Fatalf("active keys %v: want one replacement and the old key revoked", active)
			}
			var repl string
			for id := range active {
				repl = id
			}
			for _, s := range []ghapi.SecretTarget{appSink, orgSink} {
				v, ok := w.GH.SecretValue(s)
				if !ok {
					t.Fatalf("%s not delivered", s)
				}
				info, err := w.vault().Verify(context.Background(), []string{patterns.Fingerprint([]byte(v))})
				if err != nil || info[patterns.Fingerprint([]byte(v))].KeyID != repl {
					t.Fatalf("%s holds another key than the replacement", s)
				}
			}
			j, err := journal.Open(spec.Journal, journal.Options{ReadOnly: true, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			rots, err := j.Rotations()
			if err != nil || len(rots) != 1 || rots[0].Reissued.KeyID != repl || rots[0].RevokedAt.IsZero() || len(rots[0].Delivered) != 2 {
				t.Fatalf("journal: %v %+v", err, rots)
			}
		})
	}
}
