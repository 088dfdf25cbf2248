// Command genbig writes a git fast-import stream of a large history (by
// default 36,000 commits and a 500 MB pack, git.git's order of
// size) for scripts/bench-org.sh's SIZE=500m: memory and time at a scale
// where anything kept per object or per pack byte shows.
//
// Each commit rewrites part of a few text files (a quarter of their lines,
// fresh words from a random vocabulary, so deltas stay real) and, every
// few commits, one of a set of assets of random base64 (which neither
// deltas nor compresses away). fast-import deltas a blob against the blob
// written just before it, whatever its path, so the text blobs are cut
// from one evolving document: each is the one before with a quarter of
// its lines replaced, and every blob deltas to what changed. Keys given as
// arguments are planted: in a text file, in a commit message and in an
// asset. A tag every 5,000 commits. Deterministic for a seed.
//
//	go run ./scripts/genbig KEY1 KEY2 KEY3 | git fast-import --quiet
package main

import (
	"bufio"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

type gen struct {
	rng   *rand.Rand
	vocab []string
	doc   []string // the evolving document: one line an element
	w     *bufio.Writer
}

func main() {
	commits := flag.Int("commits", 36000, "commits to write")
	dirs := flag.Int("dirs", 60, "directories of text files")
	perDir := flag.Int("files", 50, "text files per directory")
	changes := flag.Int("changes", 3, "text files each commit rewrites in part")
	lines := flag.Int("lines", 150, "lines per text file")
	assets := flag.Int("assets", 200, "asset files (random base64)")
	assetSize := flag.Int("asset-size", 24000, "bytes of random data per asset (before base64)")
	assetEvery := flag.Int("asset-every", 5, "rewrite one asset every N commits")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	keys := flag.Args()

	g := &gen{rng: rand.New(rand.NewPCG(*seed, 0)), w: bufio.NewWriterSize(os.Stdout, 1<<20)}
	defer g.w.Flush()
	g.vocab = make([]string, 5000)
	for i := range g.vocab {
		b := make([]byte, 3+g.rng.IntN(10))
		for j := range b {
			b[j] = alphabet[g.rng.IntN(len(alphabet))]
		}
		g.vocab[i] = string(b)
	}
	g.doc = make([]string, *lines)
	for i := range g.doc {
		g.doc[i] = g.line()
	}
	key := func(i int) string {
		if i < len(keys) {
			return keys[i]
		}
		return ""
	}
	textPath := func(n int) string { return fmt.Sprintf("src/d%03d/f%03d.txt", n / *perDir, n%*perDir) }
	nText := *dirs * *perDir

	for c := 1; c <= *commits; c++ {
		msg := fmt.Sprintf("change %d", c)
		if c == *commits/2 && key(1) != "" {
			msg += "\n\nold config: " + key(1)
		}
		fmt.Fprintf(g.w, "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.invalid> %d +0000\ndata %d\n%s\n", c, 1600000000+c*60, len(msg), msg)
		if c > 1 {
			fmt.Fprintf(g.w, "from :%d\n", c-1)
		}
		if c == 1 { // the first commit holds every file
			for n := range nText {
				g.text(textPath(n), "")
			}
			for a := range *assets {
				g.asset(fmt.Sprintf("assets/a%03d.b64", a), *assetSize, "")
			}
		} else {
			for k := range *changes {
				planted := ""
				if c == *commits/3 && k == 0 {
					planted = key(0)
				}
				g.text(textPath(g.rng.IntN(nText)), planted)
			}
			if c%*assetEvery == 0 {
				planted := ""
				if every := *assetEvery; c/every == (2*(*commits)/3)/every {
					planted = key(2)
				}
				g.asset(fmt.Sprintf("assets/a%03d.b64", g.rng.IntN(*assets)), *assetSize, planted)
			}
		}
		g.w.WriteString("\n")
		if c%5000 == 0 {
			fmt.Fprintf(g.w, "reset refs/tags/v%d\nfrom :%d\n\n", c/5000, c)
		}
	}
}

func (g *gen) line() string {
	var sb strings.Builder
	for k := range 8 + g.rng.IntN(8) {
		if k > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(g.vocab[g.rng.IntN(len(g.vocab))])
	}
	return sb.String()
}

// text writes the document, a quarter of it rewritten (two runs of lines),
// at path, with a key line if planted is set.
func (g *gen) text(path, planted string) {
	n := len(g.doc)
	for range 2 {
		at, run := g.rng.IntN(n), n/8
		for i := at; i < at+run && i < n; i++ {
			g.doc[i] = g.line()
		}
	}
	var sb strings.Builder
	for i, l := range g.doc {
		sb.WriteString(l)
		sb.WriteByte('\n')
		if i == n/2 && planted != "" {
			sb.WriteString("ATOMYX_API_KEY=" + planted + "\n")
		}
	}
	fmt.Fprintf(g.w, "M 644 inline %s\ndata %d\n%s\n", path, sb.Len(), sb.String())
}

// asset writes size random bytes as base64 lines at path, with a key
// line in the middle if planted is set.
func (g *gen) asset(path string, size int, planted string) {
	raw := make([]byte, size)
	for i := range raw {
		raw[i] = byte(g.rng.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	var sb strings.Builder
	for i := 0; i < len(enc); i += 76 {
		sb.WriteString(enc[i:min(i+76, len(enc))])
		sb.WriteByte('\n')
		if planted != "" && i/76 == len(enc)/76/2 {
			sb.WriteString("token: " + planted + "\n")
		}
	}
	fmt.Fprintf(g.w, "M 644 inline %s\ndata %d\n%s\n", path, sb.Len(), sb.String())
}
