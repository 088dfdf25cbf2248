package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// result is what one command line did.
type result struct {
	code        int
	out, errOut string
}

// runCLI runs one command line in-process, with env as the only
// environment.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	sys := &IO{
		In: strings.NewReader(""), Out: &out, Err: &errOut,
		Getenv:     func(k string) string { return env[k] },
		IsTerminal: func(io.Writer) bool { return false },
		// Retries happen, but wait no real time.
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}
	code := Run(context.Background(), args, sys)
	return result{code, out.String(), errOut.String()}
}

// noWholeKey fails when any of keys appears in any of outputs.
func noWholeKey(t *testing.T, keys []string, outputs ...string) {
	t.Helper()
	for _, k := range keys {
		if len(k) != patterns.KeyLen {
			continue
		}
		for _, o := range outputs {
			if strings.Contains(o, k) || strings.Contains(o, k[patterns.RedactedLen:]) {
				t.Fatalf("a whole key (or its secret tail) reached the output %q…", patterns.Redact([]byte(k)))
			}
		}
	}
}
