package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// Markdown limits: a GitHub job summary holds at most 1 MiB per step.
const (
	mdMaxFindings  = 200
	mdMaxLocations = 5
	mdMaxSkipped   = 50
)

var statusIcon = map[finding.Status]string{
	finding.Active:     "🔴",
	finding.Unverified: "🟠",
	finding.Unknown:    "🟣",
	finding.Expired:    "⚪",
	finding.Revoked:    "⚪",
}

// Markdown writes r as a GitHub-flavoured Markdown summary: a heading, the
// summary line, a table of findings, and skipped items and warnings folded
// away. Long reports are cut to stay within a job summary's size.
func Markdown(w io.Writer, r *Report) error {
	r = Scrubbed(r)
	tw := &errWriter{w: w}
	tw.line("## atomyx-guard")
	tw.line("")
	tw.line("%s", mdText(Summary(r)))
	if len(r.Findings) > 0 {
		tw.line("")
		tw.line("| Status | Key | Environment | Fingerprint | Locations |")
		tw.line("| --- | --- | --- | --- | --- |")
		for i, f := range byUrgency(r.Findings) {
			if i == mdMaxFindings {
				tw.line("")
				tw.line("…and %d more keys: see the JSON or SARIF report.", len(r.Findings)-i)
				break
			}
			var locs []string
			for j, l := range f.Locations {
				if j == mdMaxLocations {
					locs = append(locs, fmt.Sprintf("…and %d more", len(f.Locations)-j))
					break
				}
				locs = append(locs, mdLocation(l))
			}
			tw.line("| %s %s | %s | %s | %s | %s |", statusIcon[f.Status], mdText(string(f.Status)),
				mdCode(f.Redacted), mdText(f.Environment), mdCode(f.Fingerprint), strings.Join(locs, "<br>"))
		}
	}
	if len(r.Skipped) > 0 {
		tw.line("")
		tw.line("<details><summary>Skipped: %d</summary>", len(r.Skipped))
		tw.line("")
		for i, k := range r.Skipped {
			if i == mdMaxSkipped {
				tw.line("- …and %d more", len(r.Skipped)-i)
				break
			}
			tw.line("- %s: %s", mdCode(k.Where), mdText(k.Reason))
		}
		tw.line("")
		tw.line("</details>")
	}
	if len(r.Warnings) > 0 {
		tw.line("")
		tw.line("> [!WARNING]")
		for _, m := range r.Warnings {
			tw.line("> - %s", mdText(m))
		}
	}
	return tw.err
}

func mdLocation(l finding.Location) string {
	var s string
	switch l.Kind {
	case finding.KindCommitMessage:
		s = "commit message " + mdCode(short(l.Commit))
	case finding.KindTagMessage:
		s = "tag message " + mdCode(l.Tag)
	default:
		s = mdCode(position(l))
		if l.Commit != "" {
			s += " @ " + mdCode(short(l.Commit))
		}
	}
	if l.Author != "" {
		s += " " + mdText(l.Author)
	}
	if l.Date != "" && len(l.Date) >= 10 {
		s += " " + mdText(l.Date[:10])
	}
	if len(l.Decoded) > 0 {
		s += " (decoded: " + mdText(strings.Join(l.Decoded, " → ")) + ")"
	}
	if l.Original != nil {
		s += " (original: " + mdCode(originalPos(l.Original)) + ")"
	}
	return s
}

// mdText escapes text for a Markdown table cell: HTML, Markdown
// punctuation, pipes and line breaks.
func mdText(v string) string {
	v = clean(v)
	var b strings.Builder
	for _, c := range v {
		switch c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '|':
			b.WriteString(`\|`)
		case '\\', '`', '*', '_', '[', ']', '#', '~', '!', '@':
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// mdCode puts v in an inline code span that no backtick or pipe in v can
// break out of (they become look-alikes); HTML is inert in a code span.
func mdCode(v string) string {
	v = clean(v)
	r := strings.NewReplacer("`", "ˋ", "|", "¦")
	return "`" + r.Replace(v) + "`"
}
