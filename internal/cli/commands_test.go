package cli

import (
	"io"
	"slices"
	"testing"
)

// Each command is listed under the name its constructor gives it, with
// no aliases (a line that starts with a name builds only that command),
// and a line that names one builds just it.
func TestCommandsByName(t *testing.T) {
	sys := &IO{Out: io.Discard, Err: io.Discard}
	var names []string
	for _, c := range newRootCmd(sys, nil).Commands() {
		names = append(names, c.Name())
		if len(c.Aliases) > 0 {
			t.Errorf("%s has aliases %q: a command line naming one would not find it", c.Name(), c.Aliases)
		}
	}
	for _, c := range commands {
		if got := c.make(sys).Name(); got != c.name {
			t.Errorf("listed as %q, named %q", c.name, got)
		}
		if !slices.Contains(names, c.name) {
			t.Errorf("%q missing from the whole tree", c.name)
		}
		sub := newRootCmd(sys, []string{c.name, "--help"}).Commands()
		if len(sub) != 1 || sub[0].Name() != c.name {
			t.Errorf("a line naming %q built %d commands", c.name, len(sub))
		}
	}
	if len(names) != len(commands) {
		t.Errorf("whole tree has %d commands, the list %d", len(names), len(commands))
	}
}
