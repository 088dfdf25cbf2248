package marker

import (
	"slices"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
)

func TestValues(t *testing.T) {
	whole := WholeLine("key_id", `key_[0-9A-Za-z]{1,60}`)
	trailing := Trailing("location", `[0-9a-f]{12}`)
	tests := []struct {
		name  string
		field Field
		text  string
		want  []string
	}{
		{"own line", whole, "intro\n" + whole.Line("key_ab12") + "\nmore\n", []string{"key_ab12"}},
		{"CRLF", whole, whole.Line("key_x") + "\r\n", []string{"key_x"}},
		{"several, in order", whole, whole.Line("key_b") + "\n" + whole.Line("key_a") + "\n", []string{"key_b", "key_a"}},
		{"whole-line field after text", whole, "quoted: " + whole.Line("key_ab12") + "\n", nil},
		{"value outside the pattern", whole, whole.Line("key_a b") + "\n", nil},
		{"another field's marker", whole, trailing.Line("0123456789ab") + "\n", nil},
		{"trailing after text", trailing, "- src/a.go:3 " + trailing.Line("0123456789ab") + "\n", []string{"0123456789ab"}},
		{"trailing, text after it", trailing, trailing.Line("0123456789ab") + " tail\n", nil},
		{"none", whole, "no markers here", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.field.Values(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("Values = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	if got, want := WholeLine("age-days", `[0-9]+`).Line("30"), "<!-- atomyx-guard:age-days=30 -->"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}

// Issues keeps the issues marked with the value, oldest first; a body that
// only mentions the marker in text does not count.
func TestIssues(t *testing.T) {
	f := WholeLine("fingerprint", `[0-9a-f]{8}`)
	all := []ghapi.Issue{
		{Number: 7, Body: "x\n" + f.Line("deadbeef") + "\n"},
		{Number: 3, Body: f.Line("deadbeef")},
		{Number: 5, Body: f.Line("0badf00d") + "\n"},
		{Number: 2, Body: "see " + f.Line("deadbeef")},
		{Number: 4, Body: f.Line("0badf00d") + "\n" + f.Line("deadbeef") + "\n"},
	}
	var got []int
	for _, is := range f.Issues(all, "deadbeef") {
		got = append(got, is.Number)
	}
	if want := []int{3, 4, 7}; !slices.Equal(got, want) {
		t.Errorf("Issues = %v, want %v", got, want)
	}
	if got := f.Issues(all, "ffffffff"); len(got) != 0 {
		t.Errorf("Issues for an unused value = %v", got)
	}
}
