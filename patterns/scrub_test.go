package patterns

import (
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	k := mustKey(t, Production)
	k2 := mustKey(t, Development)
	bad := k[:KeyLen-1] + flip(k[KeyLen-1]) // checksum fails: still masked
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"no key", "config/settings.py", "config/settings.py"},
		{"prefix only", "atmx_prd_short", "atmx_prd_short"},
		{"whole", k, Redact([]byte(k))},
		{"glued both sides", "x" + k + "y", "x" + Redact([]byte(k)) + "y"},
		{"two", k + "/" + k2, Redact([]byte(k)) + "/" + Redact([]byte(k2))},
		{"near miss", "p?k=" + bad, "p?k=" + Redact([]byte(bad))},
		{"upper case is no key", strings.ToUpper(k), strings.ToUpper(k)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scrub(tt.in)
			if got != tt.want {
				t.Fatalf("Scrub = %q, want %q", got, tt.want)
			}
			if IndexKeyShape(got) >= 0 {
				t.Fatalf("Scrub left a key shape in %q", got)
			}
		})
	}
}
