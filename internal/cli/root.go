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

	"github.com/atomyx/atomyx-guard/internal/backoff"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitClean = 0
	ExitLeaks = 1
	ExitError = 2
	// ExitInterrupted is the code after SIGINT (^C), as shells report a
	// process a SIGINT ended (128+2); SIGTERM gives ExitError.
	ExitInterrupted = 130
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
	// Sleep is how the Vault and GitHub clients wait before a retry;
	// backoff.Sleep when nil. Tests pass one that waits no real time.
	Sleep backoff.SleepFunc
}

// SystemIO is the real process's IO.
func SystemIO() *IO {
	return &IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		Getenv:     os.Getenv,
		IsTerminal: report.IsTerminal,
	}
}

func (s *IO) env(k string) string {
	if s.Getenv == nil {
		return ""
	}
	return s.Getenv(k)
}

func (s *IO) terminal(w io.Writer) bool { return s.IsTerminal != nil && s.IsTerminal(w) }

// leaksError is report.ErrLeaks with the exit code --exit-code asked for.
type leaksError struct{ code int }

func (e leaksError) Error() string        { return report.ErrLeaks.Error() }
func (e leaksError) Is(target error) bool { return target == report.ErrLeaks }

// leaks is a scan's verdict when it found what --fail-on counts.
func leaks(code int) error { return leaksError{code} }

// exitCode is the one place that maps a command's error to the exit code,
// as gh does: nil is clean, report.ErrLeaks is leaks (with --exit-code's
// code when the command set one), anything else could not do the job.
// print says whether the error is worth a line on stderr.
func exitCode(err error) (code int, print bool) {
	var le leaksError
	switch {
	case err == nil:
		return ExitClean, false
	case errors.As(err, &le):
		return le.code, false
	case errors.Is(err, report.ErrLeaks):
		return ExitLeaks, false
	}
	return ExitError, true
}

// Main runs the command line of the process and returns its exit code.
func Main() int {
	ctx, stop := notifyContext(context.Background())
	defer stop()
	return Run(ctx, os.Args[1:], SystemIO())
}

// signalCause is the cause of the context's cancellation when SIGINT or
// SIGTERM arrives: commands stop, write what they have, and the exit code
// says which signal it was (interruptCode).
type signalCause struct{ sig os.Signal }

func (s *signalCause) Error() string {
	name := "SIGTERM"
	if s.sig == os.Interrupt {
		name = "SIGINT"
	}
	return "interrupted by " + name
}

// notifyContext is signal.NotifyContext with a cause the exit code can be
// read from. Only the first signal is caught: a second one ends the
// process at once, for whoever cannot wait for the report.
func notifyContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(&signalCause{sig: s})
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		signal.Stop(ch)
		cancel(nil)
	}
}

// interrupted returns the signal that cancelled ctx, or nil.
func interrupted(ctx context.Context) *signalCause {
	var sc *signalCause
	if errors.As(context.Cause(ctx), &sc) {
		return sc
	}
	return nil
}

// interruptCode is the exit code of a command that ctx stopped:
// ExitInterrupted after SIGINT, else ExitError.
func interruptCode(ctx context.Context) int {
	if sc := interrupted(ctx); sc != nil && sc.sig == os.Interrupt {
		return ExitInterrupted
	}
	return ExitError
}

// Run executes one command line and returns the exit code. Errors are
// printed on one line to stderr. A command that a signal stopped exits
// with interruptCode, whatever it returned, unless it succeeded.
func Run(ctx context.Context, args []string, sys *IO) int {
	root := newRootCmd(sys, args)
	root.SetArgs(args)
	root.SetIn(sys.In)
	root.SetOut(sys.Out)
	root.SetErr(sys.Err)
	err := root.ExecuteContext(ctx)
	code, print := exitCode(err)
	if print {
		fmt.Fprintf(sys.Err, "atomyx-guard: %s\n", oneLine(err.Error()))
	}
	if err != nil && interrupted(ctx) != nil {
		return interruptCode(ctx)
	}
	return code
}

// oneLine flattens an error for the last line of stderr, and masks any
// key-shaped text in it: an error may quote input (a revision, a path)
// that a user pasted a key into.
func oneLine(s string) string { return patterns.RedactRuns(strings.Join(strings.Fields(s), " ")) }

// commands are the subcommands by name, one line each; each lives in its
// own file.
var commands = []struct {
	name string
	make func(*IO) *cobra.Command
}{
	{"git", newGitCmd},
	{"dir", newDirCmd},
	{"stdin", newStdinCmd},
	{"merge", newMergeCmd},
	{"hook", newHookCmd},
	{"action", newActionCmd},
	{"respond", newRespondCmd},
	{"vault", newVaultCmd},
	{"url", newURLCmd},
	{"org", newOrgCmd},
	{"rotate", newRotateCmd},
	{"version", newVersionCmd},
	{"serve", newServeCmd},
}

// newRootCmd is the command tree for the command line args.
func newRootCmd(sys *IO, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "atomyx-guard",
		Short: "Find leaked Atomyx API keys, prove which are live, and close the door",
		Long: `atomyx-guard scans git history, staged changes, directories, archives and
deployed sites for Atomyx API keys, verifies them against the Atomyx Vault by
fingerprint, and rotates live ones.

Exit codes: 0 clean, 1 leaks found (--exit-code overrides), 2 error or SIGTERM,
130 SIGINT. Interrupted, a scan still writes the report of what it found so
far, marked partial.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	// A command line that starts with a command's name builds that
	// command alone: the others' flag sets were a tenth of a pre-commit
	// hook's own work. Anything else (help, a typo, a flag first) gets
	// the whole tree.
	for _, c := range commands {
		if len(args) > 0 && args[0] == c.name {
			root.AddCommand(c.make(sys))
			return root
		}
	}
	for _, c := range commands {
		root.AddCommand(c.make(sys))
	}
	return root
}
