package hook

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// ConfigFile is the file the allowlist snippet goes into.
const ConfigFile = ".atomyx-guard.toml"

// SkipID is the hook's id under the pre-commit framework, for SKIP=.
const SkipID = "atomyx-guard"

// BlockedAdvice writes what a person whose commit was blocked needs: each
// key's redacted form and every file:line it is staged at, then the three
// ways on (remove, rotate, allowlist by fingerprint with the exact TOML) and
// how to bypass the hook as git users expect. Findings that an allowlist
// already covers are not listed. Nothing is written when no finding blocks.
//
// Only fingerprints and redacted forms are written; free text from the
// findings (paths) is scrubbed of anything key-shaped.
func BlockedAdvice(w io.Writer, findings []finding.Finding) error {
	var blocking []finding.Finding
	for _, f := range findings {
		var locs []finding.Location
		for _, l := range f.Locations {
			if l.Allowed == "" {
				locs = append(locs, l)
			}
		}
		if len(locs) > 0 {
			f.Locations = locs
			blocking = append(blocking, f)
		}
	}
	if len(blocking) == 0 {
		return nil
	}
	var b strings.Builder
	n := len(blocking)
	fmt.Fprintf(&b, "\natomyx-guard: commit blocked: %s staged.\n\n", plural(n, "Atomyx API key is", "Atomyx API keys are"))
	for _, f := range blocking {
		fmt.Fprintf(&b, "  %s  %s  %s\n", safe(f.Redacted), safe(f.Environment), safe(f.Fingerprint))
		for _, l := range f.Locations {
			fmt.Fprintf(&b, "    %s\n", Position(l))
		}
	}
	b.WriteString("\nWays on:\n")
	fmt.Fprintf(&b, "  1. Remove it: take the key out of the file, read it from the environment or\n")
	fmt.Fprintf(&b, "     a secret store instead, 'git add' the file again and commit.\n")
	fmt.Fprintf(&b, "  2. Rotate it: treat a key that was written down as exposed.\n")
	fmt.Fprintf(&b, "     'atomyx-guard git --staged --respond' revokes and reissues it in Atomyx Vault.\n")
	fmt.Fprintf(&b, "  3. Allowlist it, only if it must stay (a revoked demo key, a test fixture):\n")
	fmt.Fprintf(&b, "     add to %s, with the reason filled in:\n\n", ConfigFile)
	for _, f := range blocking {
		for _, line := range strings.Split(strings.TrimRight(AllowSnippet(f.Fingerprint, ""), "\n"), "\n") {
			fmt.Fprintf(&b, "       %s\n", line)
		}
		b.WriteString("\n")
	}
	b.WriteString("To commit anyway (the key is still exposed): git commit --no-verify\n")
	fmt.Fprintf(&b, "Under the pre-commit framework:             SKIP=%s git commit\n", SkipID)
	_, err := io.WriteString(w, b.String())
	return err
}

// AllowSnippet is the TOML that allowlists one key by fingerprint. An
// empty reason leaves a placeholder to fill in.
func AllowSnippet(fingerprint, reason string) string {
	if reason == "" {
		reason = "why this key may stay (e.g. revoked demo key)"
	}
	return "[[allow.fingerprints]]\n" +
		"fingerprint = " + strconv.Quote(safe(fingerprint)) + "\n" +
		"reason = " + strconv.Quote(safe(reason)) + "\n"
}

// Position is a location as editors and terminals link it: path:line:col.
func Position(l finding.Location) string {
	p := l.Path
	if p == "" {
		p = l.URL
	}
	if p == "" {
		p = l.Kind
	}
	var b strings.Builder
	b.WriteString(safe(p))
	if l.Line > 0 {
		b.WriteString(":" + strconv.Itoa(l.Line))
		if l.Column > 0 {
			b.WriteString(":" + strconv.Itoa(l.Column))
		}
	}
	if l.Kind == finding.KindCommitMessage {
		b.WriteString(" (commit message)")
	}
	return b.String()
}

// safe masks key-shaped text and control characters, so that a crafted
// path can neither leak a key nor drive the terminal.
func safe(s string) string {
	s = patterns.Scrub(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
