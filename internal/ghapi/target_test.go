package ghapi

import (
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

func TestParseSecretTarget(t *testing.T) {
	good := []struct {
		in   string
		want SecretTarget
	}{
		{"github-secret:acme/app:ATOMYX_API_KEY", SecretTarget{Kind: KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"}},
		{"github-secret:a-b/x.y_z:k", SecretTarget{Kind: KindRepoSecret, Owner: "a-b", Repo: "x.y_z", Name: "k"}},
		{"github-env-secret:acme/app:production:ATOMYX_API_KEY", SecretTarget{Kind: KindEnvSecret, Owner: "acme", Repo: "app", Env: "production", Name: "ATOMYX_API_KEY"}},
		{"github-env-secret:acme/app:Prod EU/1:K", SecretTarget{Kind: KindEnvSecret, Owner: "acme", Repo: "app", Env: "Prod EU/1", Name: "K"}},
		{"github-org-secret:acme:ATOMYX_API_KEY", SecretTarget{Kind: KindOrgSecret, Org: "acme", Name: "ATOMYX_API_KEY"}},
	}
	for _, tt := range good {
		got, err := ParseSecretTarget(tt.in)
		if err != nil {
			t.Errorf("ParseSecretTarget(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseSecretTarget(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
	bad := []struct{ in, want string }{
		{"", "unknown kind"},
		{"github-secret", "want github-secret:OWNER/REPO:NAME"},
		{"github-secret:acme:K", "repository"},
		{"github-secret:acme/app", "want github-secret:OWNER/REPO:NAME"},
		{"github-secret:acme/app:K:extra", "want github-secret"},
		{"github-secret:-acme/app:K", "repository"},
		{"github-secret:ac--me/app:K", "repository"},
		{"github-secret:acme/..:K", "repository"},
		{"github-secret:acme/a b:K", "repository"},
		{"github-secret:acme/app:", "secret name"},
		{"github-secret:acme/app:1KEY", "start with a digit"},
		{"github-secret:acme/app:GITHUB_TOKEN", "GITHUB_"},
		{"github-secret:acme/app:MY-KEY", "letters, digits and underscores"},
		{"github-env-secret:acme/app:K", "want github-env-secret"},
		{"github-env-secret:acme/app::K", "environment name"},
		{"github-env-secret:acme/app: prod:K", "environment name"},
		{"github-env-secret:acme/app:pr\x00d:K", "environment name"},
		{"github-org-secret:acme/app:K", "organisation"},
		{"github-org-secret:" + strings.Repeat("a", 40) + ":K", "organisation"},
		{"GitHub-Secret:acme/app:K", "unknown kind"},
	}
	for _, tt := range bad {
		_, err := ParseSecretTarget(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSecretTarget(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
	k, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSecretTarget("github-secret:acme/app:" + k); err == nil || !strings.Contains(err.Error(), "whole Atomyx key") || patterns.IndexKeyShape(err.Error()) >= 0 {
		t.Errorf("a key as secret name: error %v", err)
	}
}

func FuzzParseSecretTarget(f *testing.F) {
	for _, s := range []string{
		"github-secret:acme/app:ATOMYX_API_KEY", "github-env-secret:acme/app:prod:K",
		"github-org-secret:acme:K", "github-secret::", "x:y:z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSecretTarget(in)
		if err != nil {
			if patterns.IndexKeyShape(err.Error()) >= 0 {
				t.Fatalf("error holds a key shape: %q", err)
			}
			return
		}
		if s.String() != in {
			t.Fatalf("String() = %q, want %q", s.String(), in)
		}
		if s.Name == "" || strings.Contains(s.Name, ":") {
			t.Fatalf("bad name accepted: %+v", s)
		}
		back, err := ParseSecretTarget(s.String())
		if err != nil || back != s {
			t.Fatalf("round trip: %+v, %v", back, err)
		}
	})
}

// Validate holds a target built in code (a journal entry, a test) to the
// rules a policy file's sink is parsed by.
func TestValidateMatchesParse(t *testing.T) {
	for _, tt := range []struct {
		name string
		t    SecretTarget
		ok   bool
	}{
		{"repo", SecretTarget{Kind: KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"}, true},
		{"env", SecretTarget{Kind: KindEnvSecret, Owner: "acme", Repo: "app", Env: "prod", Name: "K"}, true},
		{"org", SecretTarget{Kind: KindOrgSecret, Org: "acme", Name: "K"}, true},
		{"owner with double hyphen", SecretTarget{Kind: KindRepoSecret, Owner: "a--b", Repo: "app", Name: "K"}, false},
		{"repo dot-dot", SecretTarget{Kind: KindRepoSecret, Owner: "acme", Repo: "..", Name: "K"}, false},
		{"GITHUB_ name", SecretTarget{Kind: KindRepoSecret, Owner: "acme", Repo: "app", Name: "GITHUB_TOKEN"}, false},
		{"env missing", SecretTarget{Kind: KindEnvSecret, Owner: "acme", Repo: "app", Name: "K"}, false},
		{"org bad", SecretTarget{Kind: KindOrgSecret, Org: "-acme", Name: "K"}, false},
		{"kind unknown", SecretTarget{Kind: "gitlab-variable", Owner: "acme", Repo: "app", Name: "K"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.t.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate(%s) = %v, want ok=%v", tt.t, err, tt.ok)
			}
			if tt.t.Kind == "gitlab-variable" {
				return
			}
			_, perr := ParseSecretTarget(tt.t.String())
			if (perr == nil) != tt.ok {
				t.Fatalf("ParseSecretTarget(%s) = %v, want ok=%v (Validate and the parser disagree)", tt.t, perr, tt.ok)
			}
		})
	}
}
