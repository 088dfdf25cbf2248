package patterns

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vector is one line of the key-format test vectors.
type vector struct{ key, why string }

// vectors reads one group ("valid", "not-keys", "glued") of the test
// vectors of key-format.md, kept in ../testdata/key-vectors.txt for every
// package's tests.
func vectors(t testing.TB, group string) []vector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "key-vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []vector
	in := false
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			in = line == "["+group+"]"
		case in:
			key, why, _ := strings.Cut(line, " ")
			out = append(out, vector{key, strings.TrimSpace(why)})
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s vectors in testdata/key-vectors.txt", group)
	}
	return out
}

func TestVectors(t *testing.T) {
	for _, v := range vectors(t, "valid") {
		k := v.key
		if !Valid([]byte(k)) {
			t.Errorf("Valid(%s) = false, want true", Redact([]byte(k)))
		}
		if got := findAll(k); len(got) != 1 || !got[0].Valid || got[0].Start != 0 || got[0].End != KeyLen {
			t.Errorf("Find in %s = %+v, want one valid candidate spanning the key", Redact([]byte(k)), got)
		}
	}
	for _, v := range vectors(t, "not-keys") {
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
	first := vectors(t, "valid")[0].key
	for _, v := range vectors(t, "glued") {
		start := strings.Index(v.key, "atmx_")
		got := findAll(v.key)
		if len(got) != 1 || !got[0].Valid || got[0].Start != start || v.key[got[0].Start:got[0].End] != first {
			t.Errorf("Find in %q = %+v, want the first valid vector at %d (%s)", v.key, got, start, v.why)
		}
	}
}

func TestChecksumOfFirstVector(t *testing.T) {
	if got := Checksum([]byte(vectors(t, "valid")[0].key[:41])); got != "1wkvFj" {
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
