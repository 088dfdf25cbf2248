// Package marker writes and reads the hidden lines that tie a GitHub
// issue to what atomyx-guard tracks in it (a key's fingerprint, a key id,
// a location, an age): HTML comments, invisible in the rendered issue,
// that a later run finds in the body again without GitHub's search.
//
// An issue body can be edited by anyone with access: a value is accepted
// only when it matches its field's pattern, and a whole-line field only
// on a line of its own.
package marker

import (
	"regexp"
	"slices"
	"sync"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
)

// Field is one kind of marker: its name and the pattern its values match.
type Field struct {
	name string
	re   func() *regexp.Regexp
}

// WholeLine is a field whose markers stand on lines of their own.
func WholeLine(name, value string) Field { return newField(`^`, name, value) }

// Trailing is a field whose markers end a line of other text.
func Trailing(name, value string) Field { return newField(``, name, value) }

func newField(anchor, name, value string) Field {
	return Field{name: name, re: sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?m)` + anchor + `<!-- atomyx-guard:` + regexp.QuoteMeta(name) + `=(` + value + `) -->\r?$`)
	})}
}

// Line is the marker for value, without a line break.
func (f Field) Line(value string) string { return "<!-- atomyx-guard:" + f.name + "=" + value + " -->" }

// Values returns the values of f's markers in text, in order.
func (f Field) Values(text string) []string {
	var out []string
	for _, m := range f.re().FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// Issues returns the issues among all whose bodies carry value in f,
// lowest number first: the oldest is the one that counts when two runs
// raced to open one.
func (f Field) Issues(all []ghapi.Issue, value string) []ghapi.Issue {
	var out []ghapi.Issue
	for _, is := range all {
		if slices.Contains(f.Values(is.Body), value) {
			out = append(out, is)
		}
	}
	slices.SortFunc(out, func(a, b ghapi.Issue) int { return a.Number - b.Number })
	return out
}
