// Command genkeys prints freshly generated Atomyx test keys, one a line,
// for benchmark repositories (scripts/bench-git.sh). The keys are random
// and belong to no one.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/atomyx/atomyx-guard/patterns"
)

func main() {
	n := flag.Int("n", 1, "how many keys")
	flag.Parse()
	for range *n {
		k, err := patterns.Generate(patterns.Production)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(k)
	}
}
