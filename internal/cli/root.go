package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitClean = 0
	ExitLeaks = 1
	ExitError = 2
)

// IO is what a command may touch of its process: streams and environment.
// Tests give their own.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	Getenv   func(string) string
	// Getwd is the working directory commands resolve relative paths
	// against; empty means the process's.
	Getwd string
	// IsTerminal reports whether w is an interactive terminal.
	IsTerminal func(w io.Writer) bool
}

// SystemIO is the real process's IO.
func SystemIO() *IO {
	return &IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		Getenv: os.Getenv,
		IsTerminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
		},
	}
}

func (s *IO) env(k string) string {
	if s.Getenv == nil {
		return ""
	}
	return s.Getenv(k)
}

func (s *IO) terminal(w io.Writer) bool { return s.IsTerminal != nil && s.IsTerminal(w) }

// exitError carries an exit code out of a command. A nil err with a code is
// a clean outcome that still sets the code (leaks found).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that the command exits with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// Main runs the command line of the process and returns its exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], SystemIO())
}

// Run executes one command line and returns the exit code. Errors are
// printed on one line to stderr.
func Run(ctx context.Context, args []string, sys *IO) int {
	root := newRootCmd(sys)
	root.SetArgs(args)
	root.SetIn(sys.In)
	root.SetOut(sys.Out)
	root.SetErr(sys.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitClean
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(sys.Err, "atomyx-guard: %s\n", oneLine(ee.err.Error()))
		}
		return ee.code
	}
	// Flag and argument errors from cobra, and anything unclassified.
	fmt.Fprintf(sys.Err, "atomyx-guard: %s\n", oneLine(err.Error()))
	return ExitError
}

// oneLine flattens an error for the last line of stderr, and masks any
// key-shaped text in it: an error may quote input (a revision, a path)
// that a user pasted a key into.
func oneLine(s string) string { return patterns.RedactRuns(strings.Join(strings.Fields(s), " ")) }

func newRootCmd(sys *IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "atomyx-guard",
		Short: "Find leaked Atomyx API keys, prove which are live, and close the door",
		Long: `atomyx-guard scans git history, staged changes, directories, archives and
deployed sites for Atomyx API keys, verifies them against the Atomyx Vault by
fingerprint, and rotates live ones.

Exit codes: 0 clean, 1 leaks found (--exit-code overrides), 2 error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	for _, add := range []func(*IO) *cobra.Command{
		// One line per command; each lives in its own file.
		newGitCmd,
		newDirCmd,
		newStdinCmd,
		newMergeCmd,
		newHookCmd,
		newActionCmd,
		newRespondCmd,
		newVaultCmd,
		newURLCmd,
		newOrgCmd,
		newServeCmd,
	} {
		root.AddCommand(add(sys))
	}
	return root
}
