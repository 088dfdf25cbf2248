package journal_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

func TestUpdateGetListFind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var steps []journal.Step
	j.OnCommit = func(_ string, s journal.Step) { steps = append(steps, s) }
	a, b := patterns.NewSecret(testkit.NewKey(t, patterns.Production)), patterns.NewSecret(testkit.NewKey(t, patterns.Production))
	for _, k := range []patterns.Secret{a, b} {
		if _, err := j.Update(k.Fingerprint(), journal.Detected, func(in *journal.Incident) error {
			in.Redacted, in.Action, in.DetectedAt = k.String(), "rotate", time.Now()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	in, err := j.Update(a.Fingerprint(), journal.Reported, func(in *journal.Incident) error {
		in.ReportedAt = time.Now()
		return nil
	})
	if err != nil || !in.Done() || in.ID != journal.IDFor(a.Fingerprint()) {
		t.Fatalf("%+v %v", in, err)
	}
	if _, err := j.Update(b.Fingerprint(), journal.Verified, func(*journal.Incident) error { return os.ErrInvalid }); err == nil {
		t.Fatal("a failing step committed")
	}
	if len(steps) != 3 {
		t.Fatalf("commits %v", steps)
	}
	all, err := j.List()
	if err != nil || len(all) != 2 {
		t.Fatalf("%d incidents, %v", len(all), err)
	}
	for _, name := range []string{journal.IDFor(b.Fingerprint()), b.Fingerprint(), journal.IDFor(b.Fingerprint())[:10]} {
		got, err := j.Find(name)
		if err != nil || got.Fingerprint != b.Fingerprint() || got.Done() {
			t.Errorf("Find(%q): %+v %v", name, got, err)
		}
	}
	if _, err := j.Find("inc-nothing"); err == nil {
		t.Error("found a missing incident")
	}
	j.Close()

	// Reopened read-only, it reads what was committed and refuses writes.
	ro, err := journal.Open(path, journal.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, ok, err := ro.Get(a.Fingerprint()); err != nil || !ok || !got.Done() {
		t.Fatalf("read-only get: %+v %v %v", got, ok, err)
	}
	if _, err := ro.Update(a.Fingerprint(), journal.Noted, func(*journal.Incident) error { return nil }); err == nil {
		t.Fatal("a read-only journal took a write")
	}
}

func TestOpenWaitsForAnotherHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := journal.Open(path, journal.Options{Timeout: 50 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "held by another responder") {
		t.Fatalf("second open: %v", err)
	}
}

func TestSealing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.db")
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := patterns.NewSecret(testkit.NewKey(t, patterns.Production))
	sealed, err := j.SealLocal(k)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(k.Reveal())) {
		t.Fatal("sealed in the clear")
	}
	st, err := os.Stat(path + ".key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("journal key file: %v %v", st, err)
	}
	j.Close()
	// A reopened journal opens what it sealed before.
	j2, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	got, err := j2.OpenLocal(sealed)
	if err != nil || got.Reveal() != k.Reveal() {
		t.Fatalf("open local: %v", err)
	}

	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	toOperator, err := journal.Seal(k, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := journal.OpenSealed(toOperator, id); err != nil || got.Reveal() != k.Reveal() {
		t.Fatalf("operator open: %v", err)
	}
	if _, err := journal.OpenSealed(toOperator, other); err == nil {
		t.Fatal("another identity opened it")
	}
	if _, err := j2.OpenLocal(toOperator); err == nil {
		t.Fatal("the journal key opened the operator's copy")
	}
	// A sealed non-key is refused, and the error does not echo it.
	notKey, _ := journal.Seal(patterns.NewSecret("hunter2"), id.Recipient())
	if _, err := journal.OpenSealed(notKey, id); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("sealed non-key: %v", err)
	}
}

func BenchmarkUpdate(b *testing.B) {
	j, err := journal.Open(filepath.Join(b.TempDir(), "j.db"), journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	fp := patterns.NewSecret(testkit.NewKey(b, patterns.Production)).Fingerprint()
	for b.Loop() {
		if _, err := j.Update(fp, journal.Noted, func(in *journal.Incident) error { in.Notes = []string{"x"}; return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
