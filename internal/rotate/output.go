package rotate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the plan (and, after --apply, each key's result).
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

func owner(it Item) string {
	if it.Owner == nil {
		return "-"
	}
	s := it.Owner.Org
	if it.Owner.Team != "" {
		s += "/" + it.Owner.Team
	}
	return clean(s)
}

// WriteText writes one line per key that needs attention and a summary
// line; keys within their age are counted, not listed.
func (p *Plan) WriteText(w io.Writer) error {
	for _, it := range p.Items {
		if it.Action == ActionNone && it.State == StateOK {
			continue
		}
		line := fmt.Sprintf("%-8s %s %s %s: %d days old (max %s)", it.State, clean(it.KeyID), clean(it.Environment), owner(it), it.AgeDays, it.MaxAge)
		if it.Unused {
			line += fmt.Sprintf(", unused for %d days", it.UnusedDays)
		}
		if it.Action != ActionNone {
			line += " -> " + it.Action
		}
		if len(it.Sinks) > 0 {
			line += " to " + strings.Join(it.Sinks, ", ")
			if it.SinkSource != "" {
				line += " (from " + it.SinkSource + ")"
			}
		}
		if it.Result != "" {
			line += ": " + it.Result
		}
		if it.Replacement != "" {
			line += ", replacement " + it.Replacement + " (" + clean(it.ReplacementID) + ")"
		}
		if it.Issue != "" {
			line += " " + clean(it.Issue)
		}
		if it.Detail != "" {
			line += "; " + clean(it.Detail)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%s: %d keys: %d due (%d to rotate, %d to report), %d due soon, %d unused, %d waiting for grace\n",
		clean(p.Org), len(p.Items), p.countState(StateDue), p.Count(ActionRotate), p.Count(ActionReport),
		p.countState(StateWarn), p.CountUnused(), p.Count(ActionWait))
	return err
}

func (p *Plan) countState(s string) int {
	n := 0
	for _, it := range p.Items {
		if it.State == s {
			n++
		}
	}
	return n
}

// WriteMarkdown writes a summary for a job summary or an issue: counts,
// then a table of the keys that need attention.
func (p *Plan) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	verb := "plan"
	if p.Applied {
		verb = "applied"
	}
	fmt.Fprintf(&b, "## atomyx-guard rotate: %s (%s)\n\n", clean(p.Org), verb)
	fmt.Fprintf(&b, "%d active keys; **%d due** (%d rotated or to rotate, %d without a known sink), %d due within the warning window, %d unused, %d waiting for their grace to end.\n\n",
		len(p.Items), p.countState(StateDue), p.Count(ActionRotate), p.Count(ActionReport), p.countState(StateWarn), p.CountUnused(), p.Count(ActionWait))
	rows := 0
	for _, it := range p.Items {
		if it.Action == ActionNone && it.State == StateOK {
			continue
		}
		if rows == 0 {
			b.WriteString("| key | environment | owner | age | state | action | result |\n| --- | --- | --- | --- | --- | --- | --- |\n")
		}
		rows++
		result := it.Result
		if it.Replacement != "" {
			result += " `" + it.Replacement + "`"
		}
		if it.Issue != "" {
			result += " " + it.Issue
		}
		if it.Detail != "" {
			result += " " + it.Detail
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %d d / %s | %s | %s | %s |\n", cell(it.KeyID), cell(it.Environment), cell(owner(it)),
			it.AgeDays, it.MaxAge, it.State, it.Action, cell(strings.TrimSpace(result)))
	}
	if rows == 0 {
		b.WriteString("Nothing is due.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
