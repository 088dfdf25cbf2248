// Command genrewrites writes a git fast-import stream of a history whose
// commits rewrite whole files: the shape where diff-based scanners pay
// most (every line of every revision is an added line). Keys given as
// arguments are planted, one in a file and one in a commit message, so
// the benchmark can check they are found. Deterministic for a seed.
//
//	go run ./scripts/genrewrites -commits 250 -files 40 KEY1 KEY2 | git fast-import
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func main() {
	commits := flag.Int("commits", 250, "commits to write")
	files := flag.Int("files", 40, "files each commit rewrites")
	lines := flag.Int("lines", 1200, "lines per file")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	keys := flag.Args()

	rng := rand.New(rand.NewPCG(*seed, 0))
	vocab := make([]string, 5000)
	for i := range vocab {
		b := make([]byte, 3+rng.IntN(10))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		vocab[i] = string(b)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	var sb strings.Builder
	for c := 1; c <= *commits; c++ {
		msg := fmt.Sprintf("rewrite %d", c)
		if c == *commits/2 && len(keys) > 1 {
			msg += "\n\nold config: " + keys[1]
		}
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.invalid> %d +0000\ndata %d\n%s\n", c, 1700000000+c*60, len(msg), msg)
		if c > 1 {
			fmt.Fprintf(w, "from :%d\n", c-1)
		}
		for f := range *files {
			sb.Reset()
			for range *lines {
				for k := range 8 {
					if k > 0 {
						sb.WriteByte(' ')
					}
					sb.WriteString(vocab[rng.IntN(len(vocab))])
				}
				sb.WriteByte('\n')
			}
			if c == *commits/3 && f == 5 && len(keys) > 0 {
				sb.WriteString("ATOMYX_API_KEY=" + keys[0] + "\n")
			}
			fmt.Fprintf(w, "M 644 inline f%02d.txt\ndata %d\n%s\n", f, sb.Len(), sb.String())
		}
	}
}
