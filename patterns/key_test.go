package patterns

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The vectors of key-format.md.
var validVectors = []string{
	"atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj",
	"atmx_stg_abcdefghijklmnopqrstuvwxyz0123452fIWmx",
	"atmx_dev_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ1j0mal",
	"atmx_prd_000000000000000000000000000000002l0BlI",
	"atmx_prd_q7Lw2XbN9vTz4KcR8mHs1YdF6pJg3AeU45ReXE",
}

var invalidVectors = []struct{ key, why string }{
	{"atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFk", "checksum off by one digit"},
	{"atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvF", "46 characters"},
	{"atmx_qa1_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj", "unknown environment"},
	{"atmx_stg_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj", "checksum covers the environment too"},
	{"ATMX_PRD_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj", "upper case"},
	{"atmx_prd_0123456789ABCDEF-HIJKLMNOPQRSTUV1wkvFj", "'-' is not base62"},
}

// gluedVectors are key-format.md's glued examples: still keys, the 47
// characters from the prefix on being the first valid vector.
var gluedVectors = []struct {
	text  string
	start int
}{
	{"xatmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj", 1},
	{"atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFjQ", 0},
}

func TestVectors(t *testing.T) {
	for _, k := range validVectors {
		if !Valid([]byte(k)) {
			t.Errorf("Valid(%s) = false, want true", Redact([]byte(k)))
		}
		if got := findAll(k); len(got) != 1 || !got[0].Valid || got[0].Start != 0 || got[0].End != KeyLen {
			t.Errorf("Find in %s = %+v, want one valid candidate spanning the key", Redact([]byte(k)), got)
		}
	}
	for _, v := range invalidVectors {
		if Valid([]byte(v.key)) {
			t.Errorf("Valid(%q) = true, want false (%s)", v.key, v.why)
		}
		for _, c := range findAll(v.key) {
			if c.Valid {
				t.Errorf("Find(%q) reported a valid key (%s)", v.key, v.why)
			}
		}
	}
}

func TestGluedVectors(t *testing.T) {
	for _, v := range gluedVectors {
		got := findAll(v.text)
		if len(got) != 1 || !got[0].Valid || got[0].Start != v.start || v.text[got[0].Start:got[0].End] != validVectors[0] {
			t.Errorf("Find in %q = %+v, want the first valid vector at %d", v.text, got, v.start)
		}
	}
}

func TestChecksumOfFirstVector(t *testing.T) {
	if got := Checksum([]byte(validVectors[0][:41])); got != "1wkvFj" {
		t.Fatalf("Checksum = %q, want 1wkvFj (CRC-32 0x6a5aebc3)", got)
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for _, env := range Environments {
		for range 50 {
			k, err := Generate(env)
			if err != nil {
				t.Fatal(err)
			}
			if !Valid([]byte(k)) {
				t.Fatalf("generated key %s does not validate", Redact([]byte(k)))
			}
			if EnvironmentOf([]byte(k)) != env {
				t.Fatalf("generated key for %s has environment %s", env, EnvironmentOf([]byte(k)))
			}
			if seen[k] {
				t.Fatal("Generate repeated a key")
			}
			seen[k] = true
		}
	}
	if _, err := Generate("qa"); err == nil {
		t.Fatal("Generate(qa) succeeded")
	}
}

func TestFingerprintAndRedact(t *testing.T) {
	k := mustKey(t, Production)
	fp := Fingerprint([]byte(k))
	if !ValidFingerprint(fp) {
		t.Fatalf("Fingerprint %q has not the documented form", fp)
	}
	if strings.Contains(fp, k[9:]) {
		t.Fatal("fingerprint carries the key body")
	}
	if Fingerprint([]byte(mustKey(t, Production))) == fp {
		t.Fatal("two keys share a fingerprint")
	}
	r := Redact([]byte(k))
	if r != k[:13]+"…" {
		t.Fatalf("Redact = %q, want %q", r, k[:13]+"…")
	}
	for _, bad := range []string{"", "sha256:", "sha256:" + strings.Repeat("A", 64), "md5:" + strings.Repeat("a", 64)} {
		if ValidFingerprint(bad) {
			t.Errorf("ValidFingerprint(%q) = true", bad)
		}
	}
}

func TestParseEnvironment(t *testing.T) {
	for in, want := range map[string]Environment{"dev": Development, "development": Development, "stg": Staging, "staging": Staging, "prd": Production, "production": Production} {
		got, err := ParseEnvironment(in)
		if err != nil || got != want {
			t.Errorf("ParseEnvironment(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseEnvironment("qa"); err == nil {
		t.Error("ParseEnvironment(qa) succeeded")
	}
}

func mustKey(t testing.TB, env Environment) string {
	t.Helper()
	k, err := Generate(env)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func findAll(s string) []Candidate {
	var out []Candidate
	Find([]byte(s), 0, true, func(c Candidate) { out = append(out, c) })
	return out
}

func TestSecretNeverPrintsWhole(t *testing.T) {
	k := mustKey(t, Production)
	s := NewSecret(k)
	outs := []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s), s.String()}
	b, _ := json.Marshal(map[string]any{"k": s})
	outs = append(outs, string(b))
	tb, _ := s.MarshalText()
	outs = append(outs, string(tb))
	for _, o := range outs {
		if strings.Contains(o, k[13:]) {
			t.Fatalf("Secret printed more than its redacted form: %q", o)
		}
	}
	if s.Reveal() != k || s.Fingerprint() != Fingerprint([]byte(k)) {
		t.Fatal("Reveal or Fingerprint lost the key")
	}
}

func TestRedactRuns(t *testing.T) {
	k := mustKey(t, Production)
	for _, tt := range []struct{ in, want string }{
		{"no key here", "no key here"},
		{"x" + k + "y", "x" + k[:RedactedLen] + "…"},
		{"a/" + k + ".txt", "a/" + k[:RedactedLen] + "….txt"},
		{"atmx_prd_ab", "atmx_prd_ab"},
		{"atmx_qa1_" + k[9:], "atmx_qa1_" + k[9:13] + "…"},
		{k + "_" + k, k[:RedactedLen] + "…"},
	} {
		if got := RedactRuns(tt.in); got != tt.want {
			t.Errorf("RedactRuns(%q) = %q, want %q", Redact([]byte(tt.in)), got, tt.want)
		}
	}
}
