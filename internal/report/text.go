package report

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"
)

// TextOptions shape WriteText's output.
type TextOptions struct {
	// Color styles the output with ANSI escapes; see ColorEnabled.
	Color bool
	// Verbose adds owners, blob ids, full dates and near misses.
	Verbose bool
}

// ColorEnabled reports whether text written to w should be coloured: only
// when w is a terminal, TERM is not "dumb" and NO_COLOR is empty
// (https://no-color.org). env is os.Getenv or a test's stand-in.
func ColorEnabled(w io.Writer, env func(string) string) bool {
	if env == nil {
		env = os.Getenv
	}
	if env("NO_COLOR") != "" || env("TERM") == "dumb" {
		return false
	}
	return IsTerminal(w)
}

// IsTerminal reports whether w is an interactive terminal (a Cygwin or
// MSYS one included). It is the program's one test for a terminal: the
// CLI asks it too before drawing a progress line.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// styles of the text report, built on a renderer of their own so that
// nothing depends on lipgloss's global, environment-detected state.
type styles struct {
	key, dim, path, warn, ok, head lipgloss.Style
	status                         map[finding.Status]lipgloss.Style
}

func newStyles(w io.Writer, color bool) styles {
	r := lipgloss.NewRenderer(w)
	r.SetHasDarkBackground(true) // never query the terminal
	if color {
		r.SetColorProfile(termenv.ANSI)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	st := r.NewStyle()
	return styles{
		key:  st.Bold(true),
		dim:  st.Faint(true),
		path: st.Foreground(lipgloss.Color("6")),
		warn: st.Foreground(lipgloss.Color("3")),
		ok:   st.Foreground(lipgloss.Color("2")),
		head: st.Bold(true),
		status: map[finding.Status]lipgloss.Style{
			finding.Active:     st.Bold(true).Foreground(lipgloss.Color("1")),
			finding.Unverified: st.Bold(true).Foreground(lipgloss.Color("3")),
			finding.Unknown:    st.Foreground(lipgloss.Color("5")),
			finding.Expired:    st.Foreground(lipgloss.Color("2")),
			finding.Revoked:    st.Foreground(lipgloss.Color("2")),
		},
	}
}

// WriteText writes r for a person at a terminal: a header per key, its
// locations, then skipped items, warnings and a summary line.
func WriteText(w io.Writer, r *Report, o TextOptions) error {
	r = Scrubbed(r)
	sty := newStyles(w, o.Color)
	tw := &errWriter{w: w}
	for i, f := range byUrgency(r.Findings) {
		if i > 0 {
			tw.line("")
		}
		stStyle, ok := sty.status[f.Status]
		if !ok {
			stStyle = sty.warn
		}
		tw.line("%s  %s  %s  %s", sty.key.Render(clean(f.Redacted)), clean(f.Environment),
			stStyle.Render(strings.ToUpper(clean(string(f.Status)))), sty.dim.Render(clean(f.Fingerprint)))
		if f.StatusReason != "" {
			tw.line("  %s", sty.warn.Render("not verified: "+clean(f.StatusReason)))
		}
		if f.OwnCredential {
			tw.line("  %s", sty.warn.Render(OwnCredentialNote))
		}
		if n := mismatchNote(f); n != "" {
			tw.line("  %s", sty.warn.Render(clean(n)))
		}
		// Who owns a live key and what it opens is what its reader needs
		// first; for the others it is detail.
		if o.Verbose || f.Status == finding.Active {
			writeKeyMeta(tw, f)
		}
		for _, l := range f.Locations {
			writeLocation(tw, sty, l, o.Verbose)
		}
	}
	if o.Verbose && len(r.NearMisses) > 0 {
		tw.line("")
		tw.line("%s", sty.head.Render(fmt.Sprintf("Near misses (checksum fails, not keys): %d", len(r.NearMisses))))
		for _, n := range r.NearMisses {
			tw.line("  %s  %s", clean(n.Redacted), sty.path.Render(clean(position(n.Location))))
		}
	}
	if len(r.Skipped) > 0 {
		tw.line("")
		tw.line("%s", sty.head.Render(fmt.Sprintf("Skipped: %d", len(r.Skipped))))
		for _, k := range r.Skipped {
			tw.line("  %s: %s", sty.path.Render(clean(k.Where)), clean(k.Reason))
		}
	}
	if len(r.Warnings) > 0 {
		tw.line("")
		for _, m := range r.Warnings {
			tw.line("%s %s", sty.warn.Render("warning:"), clean(m))
		}
	}
	if len(r.Findings) > 0 || len(r.Skipped) > 0 || len(r.Warnings) > 0 || o.Verbose && len(r.NearMisses) > 0 {
		tw.line("")
	}
	sum := Summary(r)
	if len(r.Findings) == 0 {
		sum = sty.ok.Render(sum)
	} else {
		sum = sty.head.Render(sum)
	}
	tw.line("%s", sum)
	return tw.err
}

func writeKeyMeta(tw *errWriter, f finding.Finding) {
	var parts []string
	if f.KeyID != "" {
		parts = append(parts, "key id "+clean(f.KeyID))
	}
	if ow := f.Owner; ow != nil {
		parts = append(parts, "owner "+clean(strings.Join(nonEmpty(ow.Org, ow.Team, ow.Contact), " / ")))
	}
	if len(f.Products) > 0 {
		parts = append(parts, "products "+clean(strings.Join(f.Products, ", ")))
	}
	if f.CreatedAt != "" {
		parts = append(parts, "created "+clean(f.CreatedAt))
	}
	if f.LastUsedAt != "" {
		parts = append(parts, "last used "+clean(f.LastUsedAt))
	}
	if len(parts) > 0 {
		tw.line("  %s", strings.Join(parts, " · "))
	}
}

func writeLocation(tw *errWriter, sty styles, l finding.Location, verbose bool) {
	head := position(l)
	switch l.Kind {
	case finding.KindCommitMessage:
		head = "commit message " + short(l.Commit)
	case finding.KindTagMessage:
		head = "tag message " + cmp.Or(l.Tag, short(l.Commit))
	}
	if l.Kind == finding.KindCommitMessage || l.Kind == finding.KindTagMessage {
		if l.Line > 0 {
			head += ":" + strconv.Itoa(l.Line)
		}
	}
	parts := []string{sty.path.Render(clean(head))}
	if l.Commit != "" && l.Kind != finding.KindCommitMessage {
		parts = append(parts, "commit "+clean(short(l.Commit)))
	}
	if l.Author != "" {
		parts = append(parts, clean(l.Author))
	}
	if l.Date != "" {
		d := l.Date
		if !verbose && len(d) >= 10 {
			d = d[:10]
		}
		parts = append(parts, clean(d))
	}
	tw.line("  %s", strings.Join(parts, "  "))
	var notes []string
	if len(l.Decoded) > 0 {
		notes = append(notes, "decoded: "+clean(strings.Join(l.Decoded, " → ")))
	}
	if l.Original != nil {
		notes = append(notes, "original: "+clean(originalPos(l.Original)))
	}
	if l.Unreachable {
		notes = append(notes, "unreachable object")
	}
	if verbose && l.Blob != "" {
		notes = append(notes, "blob "+clean(l.Blob))
	}
	if l.Allowed != "" {
		notes = append(notes, "allowed: "+clean(l.Allowed))
	}
	if len(notes) > 0 {
		tw.line("    %s", sty.dim.Render(strings.Join(notes, " · ")))
	}
}

// byUrgency orders findings for people: live keys first, then by
// environment (production first); the sort is stable, so the report's own
// order breaks ties.
func byUrgency(fs []finding.Finding) []finding.Finding {
	out := slices.Clone(fs)
	rank := func(f finding.Finding) (int, int) {
		st := slices.Index(statusOrder, f.Status)
		if st < 0 {
			st = len(statusOrder)
		}
		env := slices.Index(patterns.Environments, patterns.Environment(f.Environment))
		return st, -env
	}
	slices.SortStableFunc(out, func(a, b finding.Finding) int {
		sa, ea := rank(a)
		sb, eb := rank(b)
		return cmp.Or(cmp.Compare(sa, sb), cmp.Compare(ea, eb))
	})
	return out
}

// Summary is the report's last line: keys, locations, statuses, and what
// was read.
func Summary(r *Report) string {
	var b strings.Builder
	if len(r.Findings) == 0 {
		b.WriteString("No Atomyx keys found")
	} else {
		fmt.Fprintf(&b, "%s in %s", plural(len(r.Findings), "key"), plural(r.Locations(), "location"))
		counts := map[finding.Status]int{}
		for _, f := range r.Findings {
			counts[f.Status]++
		}
		var parts []string
		for _, st := range statusOrder {
			if counts[st] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
			}
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	st := r.Stats
	var read []string
	for _, c := range []struct {
		n    int64
		noun string
	}{{st.Commits, "commit"}, {st.Blobs, "blob"}, {st.Files, "file"}, {st.URLs, "URL"}} {
		if c.n > 0 {
			read = append(read, plural64(c.n, c.noun))
		}
	}
	read = append(read, humanBytes(st.Bytes))
	fmt.Fprintf(&b, " · scanned %s in %s", strings.Join(read, ", "), humanMS(st.DurationMS))
	if st.Allowed > 0 {
		fmt.Fprintf(&b, " · %s allowed", plural64(st.Allowed, "key"))
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, " · %d skipped", len(r.Skipped))
	}
	if st.Partial {
		b.WriteString(" · PARTIAL scan")
	}
	return b.String()
}

func plural(n int, noun string) string { return plural64(int64(n), noun) }

func plural64(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return plural64(n, "byte")
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func humanMS(ms int64) string {
	if ms < 1000 {
		return strconv.FormatInt(ms, 10) + "ms"
	}
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// clean makes untrusted text (a path from a scanned repository, an author)
// safe to print on a terminal: control characters, escapes and bidirectional
// overrides are shown escaped instead of acting on the terminal.
func clean(v string) string {
	ok := true
	for _, c := range v {
		if unsafeRune(c) {
			ok = false
			break
		}
	}
	if ok {
		return v
	}
	var b strings.Builder
	for _, c := range v {
		if !unsafeRune(c) {
			b.WriteRune(c)
			continue
		}
		q := strconv.QuoteRuneToASCII(c)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

func unsafeRune(c rune) bool {
	return c == unicode.ReplacementChar || unicode.IsControl(c) ||
		unicode.Is(unicode.Bidi_Control, c) || c == '\u2028' || c == '\u2029'
}

// errWriter keeps the first write error so that callers check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) line(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format+"\n", args...)
}

// OwnCredentialNote marks, in text and SARIF, a finding of the key the run
// itself is configured with: never acted on automatically.
const OwnCredentialNote = "this run's own credential (ATOMYX_API_KEY): not revoked or reissued automatically; rotate it by hand"
