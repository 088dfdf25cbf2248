package config

import (
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
)

func TestRotateDefaults(t *testing.T) {
	c, err := Parse([]byte("[allow]\npaths = [\"x/**\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Rotate.Set || c.Rotate.MaxAge != 90*Day || c.Rotate.WarnBefore != 14*Day || c.Rotate.UnusedAfter != 0 || len(c.Rotate.Keys) != 0 {
		t.Fatalf("defaults: %+v", c.Rotate)
	}
	if c.FailOnEnvironmentMismatch {
		t.Fatal("fail_on_environment_mismatch defaults to true")
	}
}

func TestRotateParse(t *testing.T) {
	c, err := Parse([]byte(`
[rotate]
max_age = "90d"
warn_before = "2w"
unused_after = "60d"

[rotate.environments.development]
max_age = "180d"
unused_after = "0"

[[rotate.keys]]
key_id = "key_01HZX0ABC"
deliver = ["github-secret:acme/app:ATOMYX_API_KEY", "github-env-secret:acme/app:production:ATOMYX_API_KEY"]
revoke_old = "immediately"

[[rotate.keys]]
team = "payments"
environment = "prd"
deliver = ["github-org-secret:acme:PAYMENTS_KEY"]

[hygiene]
fail_on_environment_mismatch = true
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rotate
	if !r.Set || r.MaxAge != 90*Day || r.WarnBefore != 14*Day || r.UnusedAfter != 60*Day {
		t.Fatalf("limits: %+v", r.RotateLimits)
	}
	if l := r.Limits("development"); l.MaxAge != 180*Day || l.WarnBefore != 14*Day || l.UnusedAfter != 0 {
		t.Fatalf("development inherits warn_before and overrides the rest: %+v", l)
	}
	if l := r.Limits("production"); l != r.RotateLimits {
		t.Fatalf("production: %+v", l)
	}
	k, ok := r.Key("key_01HZX0ABC", "payments", "production")
	if !ok || len(k.Deliver) != 2 || k.RevokeOld != "immediately" || k.Grace != 0 {
		t.Fatalf("key_id entry wins over the team match: %+v %v", k, ok)
	}
	k, ok = r.Key("key_other", "payments", "production")
	if !ok || k.Deliver[0].String() != "github-org-secret:acme:PAYMENTS_KEY" || k.Grace != DefaultRotateGrace {
		t.Fatalf("team match: %+v %v", k, ok)
	}
	if _, ok := r.Key("key_other", "payments", "staging"); ok {
		t.Fatal("environment ignored in the match")
	}
	if !c.FailOnEnvironmentMismatch {
		t.Fatal("[hygiene] not read")
	}
}

func TestRotateParseErrors(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"[rotate]\nmax_age = \"ninety\"\n", "max_age"},
		{"[rotate]\nmax_age = \"0d\"\n", "max_age: must be more than 0"},
		{"[rotate]\nmax_age = \"10d\"\nwarn_before = \"10d\"\n", "warn_before"},
		{"[rotate]\nmax_rage = \"10d\"\n", "unknown key rotate.max_rage"},
		{"[rotate.environments.prod]\nmax_age = \"10d\"\n", "unknown environment"},
		{"[rotate.environments.production]\ncolour = \"red\"\n", "unknown key"},
		{"[[rotate.keys]]\ndeliver = [\"github-org-secret:acme:K\"]\n", "name a key"},
		{"[[rotate.keys]]\nkey_id = \"key_1\"\nteam = \"t\"\ndeliver = [\"github-org-secret:acme:K\"]\n", "not both"},
		{"[[rotate.keys]]\nkey_id = \"nokey\"\ndeliver = [\"github-org-secret:acme:K\"]\n", "key_id"},
		{"[[rotate.keys]]\nteam = \"t\"\n", "deliver is required"},
		{"[[rotate.keys]]\nteam = \"t\"\ndeliver = [\"s3:bucket\"]\n", "unknown kind"},
		{"[[rotate.keys]]\nteam = \"t\"\ndeliver = [\"github-org-secret:acme:K\"]\nrevoke_old = \"48h\"\n", "revoke_old"},
		{"[[rotate.keys]]\nteam = \"t\"\ndeliver = [\"github-org-secret:acme:K\"]\nextra = 1\n", "unknown key"},
		{"[hygiene]\nfail_on_environment_mismatch = \"yes\"\n", "config"},
		{"[hygiene]\nfail_on_mismatch = true\n", "unknown key"},
	} {
		_, err := Parse([]byte(tc.toml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.toml, err, tc.want)
		}
	}
}

func TestRotateRefusesKeysInValues(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	// A TOML escape hides the key from the raw check; the value check
	// still finds it.
	esc := strings.Replace(k, "_", `\u005f`, 1)
	_, err := Parse([]byte("[[rotate.keys]]\nteam = \"" + esc + "\"\ndeliver = [\"github-org-secret:acme:K\"]\n"))
	if err == nil || strings.Contains(err.Error(), k) || !strings.Contains(err.Error(), "whole Atomyx key") {
		t.Fatalf("err %v", err)
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * Day, "2w": 14 * Day, "36h": 36 * time.Hour, "0": 0, "0d": 0} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
		if got, _ := ParseAge(FormatAge(want)); got != want {
			t.Errorf("FormatAge(%v) does not round-trip", want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1.5d", "90", "99999999d", "-3h", "1y"} {
		if _, err := ParseAge(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParseRotate(f *testing.F) {
	f.Add([]byte("[rotate]\nmax_age = \"90d\"\nwarn_before = \"14d\"\nunused_after = \"60d\"\n[rotate.environments.staging]\nmax_age = \"30d\"\n"))
	f.Add([]byte("[[rotate.keys]]\nkey_id = \"key_01A\"\ndeliver = [\"github-secret:a/b:K\"]\nrevoke_old = \"15m\"\n"))
	f.Add([]byte("[[rotate.keys]]\nteam = \"t\"\nenvironment = \"dev\"\ndeliver = [\"github-org-secret:o:K\"]\n[hygiene]\nfail_on_environment_mismatch = true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if patterns.IndexKeyShape(err.Error()) >= 0 {
				t.Fatalf("error holds a key shape: %q", err)
			}
			return
		}
		r := c.Rotate
		for _, env := range []string{"", "production", "staging", "development"} {
			l := r.Limits(env)
			if l.MaxAge <= 0 || l.WarnBefore < 0 || l.WarnBefore >= l.MaxAge || l.UnusedAfter < 0 {
				t.Fatalf("%s: invalid limits accepted: %+v", env, l)
			}
		}
		for _, k := range r.Keys {
			if len(k.Deliver) == 0 || k.Grace < 0 || k.Grace > vault.MaxGrace || (k.KeyID == "" && k.Team == "" && k.Environment == "") {
				t.Fatalf("invalid key entry accepted: %+v", k)
			}
		}
	})
}
