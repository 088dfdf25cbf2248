package gitsource

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

const (
	h1 = "1111111111111111111111111111111111111111"
	h2 = "2222222222222222222222222222222222222222"
	h3 = "3333333333333333333333333333333333333333"
	h0 = "0000000000000000000000000000000000000000"
)

func TestParseLog(t *testing.T) {
	out := "\x01" + h1 + "\x001700000000 +0100\x00A U Thor <a@example.com>\x00" +
		"\n:000000 100644 " + h0 + " " + h2 + " A\x00new file.txt\x00" +
		":100644 100644 " + h2 + " " + h3 + " M\x00dir/changed\nname\x00" +
		":100644 100755 " + h3 + " " + h3 + " M\x00mode-only\x00" +
		":100644 000000 " + h3 + " " + h0 + " D\x00gone\x00" +
		":000000 160000 " + h0 + " " + h2 + " A\x00submodule\x00" +
		"\x01" + h2 + "\x001700000001 -0230\x00B <b@example.com>\x00\x00" +
		"::100644 100644 100644 " + h1 + " " + h2 + " " + h3 + " MM\x00merged\x00" +
		"::100644 100644 100644 " + h1 + " " + h3 + " " + h3 + " MM\x00same-as-one-parent\x00" +
		"\x01" + h3 + "\x001700000002 +0000\x00C <c@example.com>\x00"
	type got struct {
		c  commitMeta
		es []string
	}
	var all []got
	err := parseLog(bufio.NewReaderSize(strings.NewReader(out), 16), func(c commitMeta, es []entry) error {
		g := got{c: c}
		for _, e := range es {
			g.es = append(g.es, e.path+"="+e.blob.String()[:1])
		}
		all = append(all, g)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("got %d commits", len(all))
	}
	want := [][]string{{"new file.txt=2", "dir/changed\nname=3"}, {"merged=3"}, nil}
	for i, g := range all {
		if strings.Join(g.es, ",") != strings.Join(want[i], ",") {
			t.Errorf("commit %d entries %q, want %q", i, g.es, want[i])
		}
	}
	if all[0].c.Author != "A U Thor <a@example.com>" || all[0].c.Date != "2023-11-14T23:13:20+01:00" {
		t.Errorf("meta %+v", all[0].c)
	}
	if all[1].c.Date != "2023-11-14T19:43:21-02:30" {
		t.Errorf("date %q", all[1].c.Date)
	}
	for _, bad := range []string{"junk", "\x01nothex\x00", ":100644 100644 x y M\x00p\x00", "\x01" + h1 + "\x00date"} {
		if err := parseLog(bufio.NewReader(strings.NewReader(bad)), func(commitMeta, []entry) error { return nil }); err == nil {
			t.Errorf("parseLog(%q) accepted", bad)
		}
	}
}

func FuzzParseLog(f *testing.F) {
	f.Add("\x01" + h1 + "\x001700000000 +0100\x00A <a@b>\x00\n:000000 100644 " + h0 + " " + h2 + " A\x00p\x00")
	f.Add("\x01" + h1 + "\x00x\x00y\x00\x00::100644 100644 100644 " + h1 + " " + h2 + " " + h3 + " MM\x00m\x00")
	f.Fuzz(func(t *testing.T, s string) {
		_ = parseLog(bufio.NewReaderSize(strings.NewReader(s), 16), func(c commitMeta, es []entry) error {
			if _, ok := parseHex(c.ID); !ok {
				t.Fatalf("bad commit id %q", c.ID)
			}
			for _, e := range es {
				if e.blob.IsZero() {
					t.Fatal("zero blob entry")
				}
			}
			return nil
		})
	})
}

func TestParseBatchHeader(t *testing.T) {
	for _, tt := range []struct {
		line string
		typ  plumbing.ObjectType
		size int64
		ok   bool
	}{
		{h1 + " blob 12", plumbing.BlobObject, 12, true},
		{h1 + " commit 0", plumbing.CommitObject, 0, true},
		{h1 + " missing", plumbing.InvalidObject, 0, true},
		{h1 + " blob -1", 0, 0, false},
		{h1 + " blob x", 0, 0, false},
		{h1 + " thing 1", 0, 0, false},
		{"zz blob 1", 0, 0, false},
		{"", 0, 0, false},
	} {
		id, typ, size, err := parseBatchHeader([]byte(tt.line))
		if (err == nil) != tt.ok || (tt.ok && (typ != tt.typ || size != tt.size || id.String() != h1)) {
			t.Errorf("parseBatchHeader(%q) = %v %v %v %v", tt.line, id, typ, size, err)
		}
	}
}

func FuzzParseBatchHeader(f *testing.F) {
	f.Add([]byte(h1 + " blob 12"))
	f.Add([]byte(h1 + " missing"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, size, err := parseBatchHeader(b)
		if err == nil && size < 0 {
			t.Fatal("negative size accepted")
		}
	})
}

func TestParseCommitAndTag(t *testing.T) {
	raw := "tree " + h1 + "\nparent " + h2 + "\nparent " + h3 + "\n" +
		"author A U Thor <a@example.com> 1700000000 +0000\ncommitter C <c@d> 1700000000 +0000\n" +
		"gpgsig -----BEGIN PGP SIGNATURE-----\n \n parent " + h0 + "\n -----END PGP SIGNATURE-----\n\nsubject\n\nbody\n"
	c := parseCommit(h1, []byte(raw))
	if c.Tree.String() != h1 || len(c.Parents) != 2 || c.Author != "A U Thor <a@example.com>" || c.Date != "2023-11-14T22:13:20Z" {
		t.Errorf("commit %+v", c)
	}
	if string(c.Message) != "subject\n\nbody\n" {
		t.Errorf("message %q", c.Message)
	}
	tag := parseTag([]byte("object " + h2 + "\ntype commit\ntag v1.0\ntagger T <t@e> 1700000000 +0530\n\nnotes\n"))
	if tag.Object.String() != h2 || tag.Type != "commit" || tag.Name != "v1.0" || tag.Tagger != "T <t@e>" || tag.Date != "2023-11-15T03:43:20+05:30" || string(tag.Message) != "notes\n" {
		t.Errorf("tag %+v", tag)
	}
	if c := parseCommit(h1, []byte("garbage without headers")); c.Message != nil {
		t.Errorf("headerless message %q", c.Message)
	}
}

func FuzzParseObject(f *testing.F) {
	f.Add([]byte("tree " + h1 + "\nauthor A <a> 1 +0000\n\nmsg"))
	f.Add([]byte("object " + h1 + "\ntype commit\ntag x\ntagger T <t> 99999999999 -1200\n\nm"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := parseCommit(h1, b)
		tg := parseTag(b)
		for _, m := range [][]byte{c.Message, tg.Message} {
			if len(m) > 0 && !bytes.Contains(b, m) {
				t.Fatal("message not a part of the object")
			}
		}
	})
}

func TestParseReflogAndShallow(t *testing.T) {
	log := h0 + " " + h1 + " A <a> 1 +0000\tcommit (initial): x\n" + h1 + " " + h2 + " A <a> 2 +0000\tcommit: y\nbroken\n"
	got := parseReflog([]byte(log), true)
	if len(got) != 3 || got[0].String() != h1 || got[2].String() != h2 {
		t.Errorf("both: %v", got)
	}
	if got := parseReflog([]byte(log), false); len(got) != 2 {
		t.Errorf("new only: %v", got)
	}
	if sh := parseShallow([]byte(h1 + "\n" + h2 + "\nnot-a-hash\n")); len(sh) != 2 || !sh[h1] {
		t.Errorf("shallow %v", sh)
	}
}

func FuzzParseReflog(f *testing.F) {
	f.Add([]byte(h0 + " " + h1 + " A <a> 1 +0000\tx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, h := range parseReflog(b, true) {
			if h.IsZero() {
				t.Fatal("zero id")
			}
		}
		_ = parseShallow(b)
	})
}
