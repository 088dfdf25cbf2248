package ghaction

import (
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

// A key used as a branch name reaches the action through the event payload
// (ref) and must not appear whole in the job log or the summary on a push
// to that branch.
func TestEventPayloadMasked(t *testing.T) {
	f := newFixture(t)
	branch := testkit.NewKey(t, patterns.Production)
	for _, ev := range []struct {
		name, event string
		payload     any
	}{
		{"push range", "push", pushEvent("refs/heads/"+branch, f.base, f.cleanFeature)},
		{"push of a new branch", "push", pushEvent("refs/heads/"+branch, zero, f.cleanFeature)},
		{"deleted branch", "push", map[string]any{"ref": "refs/heads/" + branch, "before": f.base, "after": zero, "deleted": true}},
		{"force-push", "push", pushEvent("refs/heads/feature-"+branch, strings.Repeat("a", 40), f.cleanFeature)},
	} {
		t.Run(ev.name, func(t *testing.T) {
			r := runAction(t, f.dir, f.workspace, ev.event, ev.payload, nil)
			if r.code != ExitClean {
				t.Fatalf("exit %d (%v)", r.code, r.err)
			}
			if !strings.Contains(r.stdout, patterns.Redact([]byte(branch))) {
				t.Errorf("the log does not name the branch in its redacted form:\n%s", strings.ReplaceAll(r.stdout, branch, "<KEY>"))
			}
			r.noKeys(t, branch)
		})
	}
}

// A pull request whose base commit is not in the checkout is scanned
// whole; its own .atomyx-guard.toml is then still not trusted: the
// scanner is told so.
func TestPullRequestCheckoutUntrusted(t *testing.T) {
	f := newFixture(t)
	r := runAction(t, f.dir, f.workspace, "pull_request", prEvent(strings.Repeat("a", 40), f.leak, false), nil)
	if len(r.scanner.reqs) != 1 {
		t.Fatalf("scanner called %d times", len(r.scanner.reqs))
	}
	if got := r.scanner.reqs[0]; !got.All || !got.Untrusted {
		t.Errorf("request %+v: want everything scanned, the checkout untrusted", got)
	}
	r = runAction(t, f.dir, f.workspace, "pull_request", prEvent(f.base, f.leak, false), nil)
	if got := r.scanner.reqs[0]; got.Base != f.base || !got.Untrusted {
		t.Errorf("request %+v: want the range from the base, untrusted", got)
	}
	r = runAction(t, f.dir, f.workspace, "schedule", map[string]any{}, nil)
	if got := r.scanner.reqs[0]; got.Untrusted {
		t.Errorf("schedule: request %+v: the default branch's checkout is trusted", got)
	}
}

// However the text reaching the log is split into writes, no whole key
// gets through the mask.
func FuzzMaskWriter(f *testing.F) {
	f.Add([]byte("push to refs/heads/"), []byte{3, 17, 40}, uint8(1))
	f.Add([]byte("::error::"), []byte{0, 1, 2}, uint8(0))
	key, err := patterns.Generate(patterns.Staging)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, prefix, cuts []byte, newlines uint8) {
		text := string(prefix) + key + strings.Repeat("\n", int(newlines%3)) + string(prefix)
		var out strings.Builder
		m := &maskWriter{w: &out}
		rest := text
		for _, c := range cuts {
			if rest == "" {
				break
			}
			n := int(c) % (len(rest) + 1)
			if _, err := m.Write([]byte(rest[:n])); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if _, err := m.Write([]byte(rest)); err != nil {
			t.Fatal(err)
		}
		m.flush()
		if strings.Contains(out.String(), key) || strings.Contains(out.String(), key[patterns.RedactedLen:]) {
			t.Fatalf("a key passed the mask: %q", strings.ReplaceAll(out.String(), key, "<KEY>"))
		}
	})
}
