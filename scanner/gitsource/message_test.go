package gitsource

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/go-git/go-git/v5/plumbing"
)

// A commit or tag larger than the large-object size has its message
// streamed, not read whole (a message compresses to nothing, so a push of
// one could take the scan's memory), and its key is found with the
// header's fields: by the git binary, the pack reader and go-git alike.
func TestLargeMessages(t *testing.T) {
	d := initRepo(t)
	inCommit, inTag := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging)
	write(t, d, "a.txt", "a\n")
	tgit(t, d, "add", "-A")
	tgit(t, d, "commit", "-q", "-m", "subject\n\n"+strings.Repeat("filler line\n", 8000)+"k="+inCommit+"\n")
	tgit(t, d, "tag", "-a", "v1", "-m", "release\n\n"+strings.Repeat("notes line\n", 8000)+"k="+inTag+"\n")
	// Both stores hand the large commit on with its first bytes only.
	r, err := Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	r.large = 4 << 10
	head, err := r.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	shadow, _, err := r.newShadow(false, noSkips(t))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shadow)
	bin := &gitBin{path: "git", gitDir: shadow, large: r.large, skip: noSkips(t), timeout: time.Minute, readers: 1}
	for name, st := range map[string]store{"go-git": &goGit{r: r, skip: noSkips(t)}, "git": bin} {
		err := st.read(t.Context(), []plumbing.Hash{head.Hash()}, func(o storedObject) error {
			if o.open == nil || len(o.data) != maxHeaderPrefix || o.size <= maxHeaderPrefix {
				t.Errorf("%s: a commit of %d bytes came with %d of them, streamed %v", name, o.size, len(o.data), o.open != nil)
			}
			if o.release != nil {
				o.release()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	r.Close()

	for _, packed := range []bool{false, true} {
		if packed {
			tgit(t, d, "repack", "-adq")
		}
		for _, noBin := range []bool{false, true} {
			got := scanRepo(t, d, Options{NoGitBinary: noBin}, func(r *Repo) { r.large = 4 << 10 })
			c := got.byFP[patterns.Fingerprint([]byte(inCommit))]
			if len(c.Locations) != 1 || c.Locations[0].Kind != finding.KindCommitMessage || c.Locations[0].Author != "A U Thor <author@example.com>" {
				t.Errorf("packed=%v no-git-binary=%v: commit message key: %+v; %s", packed, noBin, c.Locations, summary(got))
			}
			g := got.byFP[patterns.Fingerprint([]byte(inTag))]
			if len(g.Locations) != 1 || g.Locations[0].Kind != finding.KindTagMessage || g.Locations[0].Tag != "v1" {
				t.Errorf("packed=%v no-git-binary=%v: tag message key: %+v", packed, noBin, g.Locations)
			}
		}
	}
}

// messageReader gives what follows the header's first empty line, as
// splitObject does, whatever the reads' sizes; readHeader stops there.
func TestMessageReaderAndReadHeader(t *testing.T) {
	tests := []struct{ obj, header, msg string }{
		{"tree x\nparent y\n\nsubject\n\nbody\n", "tree x\nparent y\n\n", "subject\n\nbody\n"},
		{"\nonly a message\n", "\n", "only a message\n"},
		{"tree x\n", "tree x\n", ""},
		{"tree x\n\n", "tree x\n\n", ""},
		{strings.Repeat("h", 5000) + "\n\nm", strings.Repeat("h", 5000) + "\n\n", "m"},
	}
	for _, tt := range tests {
		want := string(splitObject([]byte(tt.obj), func(_, _ []byte) {}))
		if want != tt.msg {
			t.Fatalf("test table disagrees with splitObject on %.20q: %q", tt.obj, want)
		}
		for _, chunk := range []int{1, 2, 3, 7, 4096} {
			got, err := io.ReadAll(newMessageReader(&chunked{r: strings.NewReader(tt.obj), n: chunk}))
			if err != nil || string(got) != tt.msg {
				t.Errorf("%.20q, reads of %d: message %.20q, %v; want %.20q", tt.obj, chunk, got, err, tt.msg)
			}
		}
		h, complete, err := readHeader(strings.NewReader(tt.obj), 1<<20)
		if err != nil || string(h) != tt.header || complete != strings.HasSuffix(tt.header, "\n\n") && tt.header != "\n" && !(tt.header == "\n") {
			t.Errorf("%.20q: header %.20q, complete %v, %v; want %.20q", tt.obj, h, complete, err, tt.header)
		}
	}
	// A header line that fills bufio's buffer exactly, then a newline, is
	// not taken for the empty line.
	line := strings.Repeat("x", 4095) + "\n"
	h, complete, err := readHeader(strings.NewReader(line+"parent y\n\nmsg"), 1<<20)
	if err != nil || !complete || !bytes.HasSuffix(h, []byte("parent y\n\n")) {
		t.Errorf("long line: header ends %q, complete %v, %v", h[max(0, len(h)-12):], complete, err)
	}
}

// chunked reads at most n bytes at a time.
type chunked struct {
	r io.Reader
	n int
}

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// FuzzMessageReader: whatever the object and the reads' sizes, the
// streamed message is splitObject's, and readHeader's header is what
// precedes it.
func FuzzMessageReader(f *testing.F) {
	f.Add([]byte("tree x\nparent y\n\nsubject\n\nbody\n"), uint8(3))
	f.Add([]byte("\nmessage"), uint8(1))
	f.Add([]byte("no end of header"), uint8(7))
	f.Fuzz(func(t *testing.T, obj []byte, chunk uint8) {
		want := splitObject(obj, func(_, _ []byte) {})
		got, err := io.ReadAll(newMessageReader(&chunked{r: bytes.NewReader(obj), n: int(chunk)%16 + 1}))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("message %q, %v; want %q", got, err, want)
		}
		h, complete, err := readHeader(bytes.NewReader(obj), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if complete && !bytes.Equal(append(append([]byte{}, h...), want...), obj) {
			t.Fatalf("header %q and message %q are not the object %q", h, want, obj)
		}
		if !complete && !bytes.Equal(h, obj) {
			t.Fatalf("no end of header, yet header %q is not the whole object %q", h, obj)
		}
	})
}
