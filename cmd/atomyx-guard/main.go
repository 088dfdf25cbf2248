// Command atomyx-guard finds leaked Atomyx API keys, proves which are live,
// and closes the door. See the README for usage; package cli holds the
// commands.
package main

import (
	"os"

	"github.com/atomyx/atomyx-guard/internal/cli"
)

func main() { os.Exit(cli.Main()) }
