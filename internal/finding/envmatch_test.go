package finding

import (
	"strings"
	"testing"
)

func TestPathEnvironment(t *testing.T) {
	for p, want := range map[string]string{
		".env.development":                    "development",
		"app/.env.prod.local":                 "production",
		"config/staging/settings.yaml":        "staging",
		"deploy/prd/values.yaml":              "production",
		"docker-compose.dev.yml":              "development",
		"acme/api-staging:config/app.py":      "staging",
		"dist.tgz!package/config/dev/app.js":  "development",
		"https://staging.example.com/main.js": "staging",
		".env":                                "",
		"src/devtools/panel.js":               "", // "devtools" is one word
		"scripts/promote-staging-to-prod.sh":  "", // two environments: ambiguous
		"config/production/staging.yaml":      "",
		"docs/productivity.md":                "",
	} {
		if got, _ := PathEnvironment(p); got != want {
			t.Errorf("%q: %q, want %q", p, got, want)
		}
	}
}

const workflow = `name: deploy
on: push
env:
  GLOBAL: x
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo KEY1
  deploy-staging:
    runs-on: ubuntu-latest
    steps:
      - run: echo KEY2
  release:
    name: Release
    environment: production
    steps:
      - run: echo KEY3
  ship:
    environment:
      name: dev
      url: https://example.com
    steps:
      - run: echo KEY4
  flow:
    environment: {name: "staging", url: "https://x"}
    steps:
      - run: echo KEY5
`

func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the text", s)
	return 0
}

func TestWorkflowEnvironment(t *testing.T) {
	for marker, want := range map[string][2]string{
		"GLOBAL: x": {"", ""},
		"KEY1":      {"", ""},
		"KEY2":      {"staging", EvidenceWorkflowJob},
		"KEY3":      {"production", EvidenceWorkflowEnvironment},
		"KEY4":      {"development", EvidenceWorkflowEnvironment},
		"KEY5":      {"staging", EvidenceWorkflowEnvironment},
	} {
		env, ev, _ := WorkflowEnvironment([]byte(workflow), lineOf(t, workflow, marker))
		if env != want[0] || ev != want[1] {
			t.Errorf("%s: %q %q, want %q %q", marker, env, ev, want[0], want[1])
		}
	}
	for _, line := range []int{-1, 0, 9999} {
		if env, _, _ := WorkflowEnvironment([]byte(workflow), line); env != "" {
			t.Errorf("line %d: %q", line, env)
		}
	}
}

func TestMarkEnvironmentMismatches(t *testing.T) {
	wf := Location{Source: SourceGit, Kind: KindBlob, Path: ".github/workflows/deploy.yml", Line: lineOf(t, workflow, "KEY4")}
	content := func(l Location) []byte {
		if l.Path == wf.Path {
			return []byte(workflow)
		}
		return nil
	}
	fs := []Finding{
		// A production key in a development file, a development workflow
		// job, a production directory and a commit message.
		{Fingerprint: "a", Environment: "production", Locations: []Location{
			{Source: SourceFile, Path: ".env.development", Line: 3},
			wf,
			{Source: SourceFile, Path: "config/production/app.env", Line: 1},
			{Source: SourceGit, Kind: KindCommitMessage, Path: "config/staging/x", Commit: "abc1"},
		}},
		// One key in places of two environments: production and staging.
		{Fingerprint: "b", Environment: "staging", Locations: []Location{
			{Source: SourceFile, Path: "deploy/prod/values.yaml", Line: 7},
			{Source: SourceFile, Path: "deploy/staging/values.yaml", Line: 7},
		}},
		// Where it belongs.
		{Fingerprint: "c", Environment: "development", Locations: []Location{{Source: SourceFile, Path: ".env.dev"}, {Source: SourceFile, Path: "README.md"}}},
	}
	MarkEnvironmentMismatches(fs, EnvCheck{Content: content})
	a := fs[0].EnvironmentMismatch
	if len(a) != 2 || a[0].Environment != "development" || a[0].Evidence != EvidencePath || a[0].Line != 3 ||
		a[1].Environment != "development" || a[1].Evidence != EvidenceWorkflowEnvironment || a[1].Path != wf.Path {
		t.Fatalf("a: %+v", a)
	}
	b := fs[1].EnvironmentMismatch
	if len(b) != 1 || b[0].Environment != "production" || b[0].Path != "deploy/prod/values.yaml" {
		t.Fatalf("b: %+v", b)
	}
	if len(fs[2].EnvironmentMismatch) != 0 {
		t.Fatalf("c: %+v", fs[2].EnvironmentMismatch)
	}
	if s := a[0].String(); s != ".env.development:3 is a development place (path .env.development)" {
		t.Fatalf("String: %q", s)
	}
	// Without content, the workflow's path says nothing.
	MarkEnvironmentMismatches(fs, EnvCheck{})
	if len(fs[0].EnvironmentMismatch) != 1 {
		t.Fatalf("without content: %+v", fs[0].EnvironmentMismatch)
	}
}

func TestRootsDoNotCount(t *testing.T) {
	fs := []Finding{{Fingerprint: "a", Environment: "production", Locations: []Location{
		{Source: SourceFile, Path: "/home/dev/app/.env"},
		{Source: SourceFile, Path: "/home/dev/app/config/staging/x.env"},
		{Source: SourceFile, Path: "/srv/dev.env"},
	}}}
	MarkEnvironmentMismatches(fs, EnvCheck{Roots: []string{"/home/dev/app/", "/srv/dev.env"}})
	m := fs[0].EnvironmentMismatch
	if len(m) != 2 || m[0].Environment != "staging" || m[1].Path != "/srv/dev.env" {
		t.Fatalf("%+v", m)
	}
}

func FuzzWorkflowEnvironment(f *testing.F) {
	f.Add([]byte(workflow), 13)
	f.Add([]byte("jobs:\n  x:\n    environment:\n"), 3)
	f.Add([]byte("jobs:\n\t- : \n  environment: {name:"), 2)
	f.Fuzz(func(t *testing.T, data []byte, line int) {
		env, ev, _ := WorkflowEnvironment(data, line)
		switch env {
		case "":
			if ev != "" {
				t.Fatalf("evidence %q without an environment", ev)
			}
		case "development", "staging", "production":
			if ev != EvidenceWorkflowEnvironment && ev != EvidenceWorkflowJob {
				t.Fatalf("evidence %q", ev)
			}
		default:
			t.Fatalf("environment %q", env)
		}
		if e, _ := PathEnvironment(string(data)); e != "" && e != "development" && e != "staging" && e != "production" {
			t.Fatalf("path environment %q", e)
		}
	})
}

func TestMergeMismatches(t *testing.T) {
	a := []Finding{{Fingerprint: "x", Environment: "production", Locations: []Location{{Source: SourceFile, Path: ".env.dev"}},
		EnvironmentMismatch: []EnvMismatch{{Environment: "development", Evidence: EvidencePath, Path: ".env.dev"}}}}
	b := []Finding{{Fingerprint: "x", Environment: "production", Locations: []Location{{Source: SourceFile, Path: ".github/workflows/d.yml", Line: 4}},
		EnvironmentMismatch: []EnvMismatch{{Environment: "staging", Evidence: EvidenceWorkflowJob, Path: ".github/workflows/d.yml", Line: 4}}}}
	merged := Merge(a, b)
	MergeMismatches(merged, a, b)
	if len(merged) != 1 || len(merged[0].EnvironmentMismatch) != 2 {
		t.Fatalf("%+v", merged)
	}
}
