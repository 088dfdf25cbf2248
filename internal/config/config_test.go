package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

func fp(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func recipient(t testing.TB) string {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String()
}

func TestDefaults(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatalf("missing file: %v", err)
	}
	empty, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Config{"missing file": c, "empty file": empty} {
		for env, want := range map[string]journal.Action{
			"production": journal.Rotate, "prd": journal.Rotate, "staging": journal.Rotate, "development": journal.Revoke, "dev": journal.Revoke, "qa": journal.Report,
		} {
			p := c.Policy(env)
			if p.Action != want || p.RevokeOld != vault.Immediately || p.Deliver != nil {
				t.Errorf("%s: Policy(%s) = %+v, want %s immediately", name, env, p, want)
			}
		}
		if !reflect.DeepEqual(c.Labels, []string{"security"}) || c.IssueRepo != "" || len(c.AllowPaths) != 0 {
			t.Errorf("%s: %+v", name, c)
		}
	}
}

func TestParseFull(t *testing.T) {
	rcpt := recipient(t)
	c, err := Parse([]byte(`
[allow]
paths = ["testdata/**", "docs/*.md"]

[[allow.fingerprints]]
fingerprint = "` + fp('a') + `"
reason = "revoked demo key used in docs"

[respond]
issue_repo = "acme/security"
labels = ["security", "leak", "security"]
recipient = "` + rcpt + `"

[respond.environments.production]
action = "rotate"
revoke_old = "15m"
deliver = ["github-secret:acme/app:ATOMYX_API_KEY", "github-env-secret:acme/app:prod:ATOMYX_KEY", "github-org-secret:acme:ATOMYX"]

[respond.environments.development]
action = "report"
`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.AllowPaths, []string{"testdata/**", "docs/*.md"}) {
		t.Errorf("AllowPaths = %v", c.AllowPaths)
	}
	if !reflect.DeepEqual(c.AllowKeys, []AllowedKey{{fp('a'), "revoked demo key used in docs"}}) {
		t.Errorf("AllowKeys = %v", c.AllowKeys)
	}
	if c.IssueRepo != "acme/security" || c.Recipient != rcpt || !reflect.DeepEqual(c.Labels, []string{"security", "leak"}) {
		t.Errorf("respond = %q %q %v", c.IssueRepo, c.Recipient, c.Labels)
	}
	prod := c.Policy("production")
	want := responder.Policy{Action: journal.Rotate, RevokeOld: "15m", Deliver: []ghapi.SecretTarget{
		{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"},
		{Kind: ghapi.KindEnvSecret, Owner: "acme", Repo: "app", Env: "prod", Name: "ATOMYX_KEY"},
		{Kind: ghapi.KindOrgSecret, Org: "acme", Name: "ATOMYX"},
	}}
	if !reflect.DeepEqual(prod, want) {
		t.Errorf("production = %+v\nwant %+v", prod, want)
	}
	if p := c.Policy("development"); p.Action != journal.Report {
		t.Errorf("development = %+v", p)
	}
	if p := c.Policy("staging"); p.Action != journal.Rotate {
		t.Errorf("staging keeps its default: %+v", p)
	}
	if got := c.IssueRepository(func(string) string { return "other/repo" }); got != "acme/security" {
		t.Errorf("IssueRepository = %q", got)
	}
	if got := Default().IssueRepository(func(k string) string { return map[string]string{"GITHUB_REPOSITORY": "o/r"}[k] }); got != "o/r" {
		t.Errorf("default IssueRepository = %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	key := testkit.NewKey(t, patterns.Production)
	tests := []struct {
		name, in, want string
	}{
		{"syntax", `[allow`, "toml:"},
		{"unknown top key", `[allwo]` + "\npaths = []", "unknown key allwo"},
		{"unknown nested key", "[allow]\npath = [\"x\"]", "unknown key allow.path"},
		{"unknown env key", "[respond.environments.production]\nactoin = \"rotate\"", "respond.environments.production.actoin"},
		{"wrong type", "[allow]\npaths = \"x\"", "allow.paths"},
		{"fingerprint without reason", "[[allow.fingerprints]]\nfingerprint = \"" + fp('a') + "\"", "reason is required"},
		{"blank reason", "[[allow.fingerprints]]\nfingerprint = \"" + fp('a') + "\"\nreason = \"  \"", "reason is required"},
		{"no fingerprint", "[[allow.fingerprints]]\nreason = \"x\"", "fingerprint is required"},
		{"bad fingerprint", "[[allow.fingerprints]]\nfingerprint = \"sha256:ABC\"\nreason = \"x\"", "allow.fingerprints[0]: fingerprint"},
		{"duplicate fingerprint", strings.Repeat("[[allow.fingerprints]]\nfingerprint = \""+fp('a')+"\"\nreason = \"x\"\n", 2), "listed twice"},
		{"bad glob", "[allow]\npaths = [\"a/[b\"]", "allow.paths[0]"},
		{"glob dotdot", "[allow]\npaths = [\"../x\"]", "allow.paths[0]"},
		{"glob partial doublestar", "[allow]\npaths = [\"a**/b\"]", "whole path segment"},
		{"bad issue repo", "[respond]\nissue_repo = \"acme\"", "respond.issue_repo"},
		{"bad label", "[respond]\nlabels = [\"\"]", "respond.labels[0]"},
		{"bad recipient", "[respond]\nrecipient = \"age1nope\"", "respond.recipient"},
		{"ssh recipient", "[respond]\nrecipient = \"ssh-ed25519 AAAA\"", "respond.recipient"},
		{"unknown env", "[respond.environments.prod]\naction = \"rotate\"", `unknown environment "prod"`},
		{"bad action", "[respond.environments.staging]\naction = \"delete\"", `action "delete"`},
		{"grace too long", "[respond.environments.staging]\nrevoke_old = \"25h\"", "at most 24h"},
		{"grace zero", "[respond.environments.staging]\nrevoke_old = \"0s\"", "more than 0"},
		{"grace junk", "[respond.environments.staging]\nrevoke_old = \"later\"", "immediately"},
		{"grace on revoke", "[respond.environments.development]\nrevoke_old = \"15m\"", `rotate" only`},
		{"deliver on revoke", "[respond.environments.staging]\naction = \"revoke\"\ndeliver = [\"github-secret:a/b:C\"]", `rotate" only`},
		{"bad sink", "[respond.environments.production]\ndeliver = [\"s3:bucket\"]", "deliver[0]"},
		{"duplicate sink", "[respond.environments.production]\ndeliver = [\"github-secret:a/b:C\", \"github-secret:a/b:C\"]", "listed twice"},
		{"whole key in a value", "[allow]\npaths = [\"" + key + "\"]", "line 2 holds what looks like a whole Atomyx key"},
		{"whole key in a comment", "# old key: " + key + "\n", "line 1 holds"},
		{"key as fingerprint", "[[allow.fingerprints]]\nfingerprint = \"" + key + "\"\nreason = \"x\"", "whole Atomyx key"},
		{"key glued", "[allow]\npaths = [\"x" + key + "y\"]", "whole Atomyx key"},
		{"key with bad checksum", "[allow]\npaths = [\"" + key[:46] + flip(key[46]) + "\"]", "whole Atomyx key"},
		{"key spelt with escapes", "[allow]\npaths = [\"atmx\\u005f" + key[5:] + "\"]", "a value holds what looks like a whole Atomyx key"},
		{"key in a table name", "[respond.environments.\"atmx\\u005f" + key[5:] + "\"]\naction = \"report\"", "whole Atomyx key"},
		{"too big", strings.Repeat("#", MaxSize+1), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if patterns.IndexKeyShape(err.Error()) >= 0 || strings.Contains(err.Error(), key[patterns.RedactedLen:]) {
				t.Errorf("error shows more than a redacted key: %q", err)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	if err := os.WriteFile(p, []byte("[allow]\npaths = [\"vendor/\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !c.AllowsPath("vendor/x/y.go") || c.AllowsPath("src/vendor.go") {
		t.Errorf("vendor/ glob: %v %v", c.AllowsPath("vendor/x/y.go"), c.AllowsPath("src/vendor.go"))
	}
	if err := os.WriteFile(p, []byte("[allow]\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "allow.bogus") {
		t.Errorf("Load error = %v, want the path and the key", err)
	}
	if _, err := Load(dir); err == nil {
		t.Error("Load of a directory: no error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("[allow]\npaths = [\"testdata/**\", \"docs/*.md\"]\n[[allow.fingerprints]]\nfingerprint = \"" + fp('a') + "\"\nreason = \"r\"\n"))
	f.Add([]byte("[respond]\nissue_repo = \"a/b\"\nlabels = [\"x\"]\n[respond.environments.production]\naction = \"rotate\"\nrevoke_old = \"1h\"\ndeliver = [\"github-org-secret:o:N\"]\n"))
	f.Add([]byte("[respond.environments.staging]\naction = \"revoke\"\n"))
	f.Add([]byte("a = \"atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj\"\n"))
	f.Add([]byte("x = \"atmx\\u005fprd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if patterns.IndexKeyShape(err.Error()) >= 0 {
				t.Fatalf("error holds a key shape: %q", err)
			}
			return
		}
		for _, env := range []string{"production", "staging", "development"} {
			p := c.Policy(env)
			switch p.Action {
			case journal.Report, journal.Revoke, journal.Rotate:
			default:
				t.Fatalf("%s: action %q", env, p.Action)
			}
			g, err := p.RevokeOld.Grace()
			if err != nil || (p.Action != journal.Rotate && (g != 0 || len(p.Deliver) > 0)) {
				t.Fatalf("%s: invalid policy accepted: %+v", env, p)
			}
			for _, s := range p.Deliver {
				if back, err := ghapi.ParseSecretTarget(s.String()); err != nil || back != s {
					t.Fatalf("sink %+v does not round-trip: %v", s, err)
				}
			}
		}
		for _, k := range c.AllowKeys {
			if !patterns.ValidFingerprint(k.Fingerprint) || strings.TrimSpace(k.Reason) == "" {
				t.Fatalf("accepted %+v", k)
			}
		}
		for _, v := range append(append([]string{c.IssueRepo, c.Recipient}, c.Labels...), c.AllowPaths...) {
			if patterns.IndexKeyShape(v) >= 0 {
				t.Fatalf("accepted a key shape in %q", v)
			}
		}
	})
}
