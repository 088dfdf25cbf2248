package patterns

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestFindBoundaries(t *testing.T) {
	k := mustKey(t, Production)
	tests := []struct {
		name  string
		text  string
		valid int // valid candidates expected
	}{
		{"alone", k, 1},
		{"env assignment", "KEY=" + k + "\n", 1},
		{"quoted", `"` + k + `"`, 1},
		{"query", "?k=" + k + "&x=1", 1},
		{"after dash", "-" + k, 1},
		{"glued before", "x" + k, 1},
		{"sqlite length byte", "\x05\x00\x00k" + k + "\x01", 1},
		{"underscore before", "_" + k, 1},
		{"digit before", "9" + k, 1},
		{"glued after", k + "a", 1},
		{"underscore after", k + "_", 1},
		{"longer base62 run", k + "0QzX" + k[9:], 1},
		{"glued both sides", "Zq" + k + "Zq", 1},
		{"truncated", k[:46], 0},
		{"truncated and glued", "x" + k[:46], 0},
		{"upper case", strings.ToUpper(k[:9]) + k[9:], 0},
		{"twice", k + " " + k, 2},
		{"adjacent non-base62", k + "-" + k, 2},
		{"glued to each other", k + k, 2},
		{"shape overlapping the key", "atmx_dev_" + strings.Repeat("Q", 34) + k, 1},
		{"prefix glued by underscore", "atmx_" + k, 1},
		{"prefix then space", "atmx_ " + k, 1},
		{"bad checksum", k[:46] + flip(k[46]), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			for _, c := range findAll(tt.text) {
				if c.Valid {
					n++
					if got := tt.text[c.Start:c.End]; !Valid([]byte(got)) {
						t.Errorf("reported span is not a key")
					}
				}
			}
			if n != tt.valid {
				t.Errorf("found %d valid keys, want %d", n, tt.valid)
			}
		})
	}
}

func TestFindFragments(t *testing.T) {
	k := mustKey(t, Production)
	text := `x = "atmx_prd_" + "abc"; y = "` + k + `"; z = 'atmx' + '_stg_'` + strings.Repeat(" ", KeyLen)
	var frags, cands []int
	FindFragments([]byte(text), func(c Candidate) { cands = append(cands, c.Start) },
		func(at int) { frags = append(frags, at) })
	want := []int{5, strings.Index(text, "'atmx'") + 1}
	if len(frags) != 2 || frags[0] != want[0] || frags[1] != want[1] {
		t.Fatalf("fragments at %v, want %v", frags, want)
	}
	if len(cands) != 1 || cands[0] != strings.Index(text, k) {
		t.Fatalf("candidates at %v, want the key's", cands)
	}
}

func TestFindNearMiss(t *testing.T) {
	k := mustKey(t, Staging)
	bad := k[:46] + flip(k[46])
	got := findAll("x=" + bad)
	if len(got) != 1 || got[0].Valid {
		t.Fatalf("want one invalid candidate (a near miss), got %+v", got)
	}
}

// TestFindWindowed checks the streaming contract: a key split across two
// windows that overlap by KeyLen bytes is found exactly once.
func TestFindWindowed(t *testing.T) {
	k := mustKey(t, Development)
	data := []byte(strings.Repeat("a ", 40) + k + strings.Repeat(" b", 40))
	want := bytes.Index(data, []byte(k))
	for window := KeyLen + 1; window < len(data); window += 7 {
		var starts []int
		for lo := 0; lo < len(data); {
			hi := min(lo+window, len(data))
			atEOF := hi == len(data)
			var before byte
			if lo > 0 {
				before = data[lo-1]
			}
			limit := hi - KeyLen // starts at or past limit are left to the next window
			Find(data[lo:hi], before, atEOF, func(c Candidate) {
				if atEOF || lo+c.Start < limit {
					starts = append(starts, lo+c.Start)
				}
			})
			if atEOF {
				break
			}
			lo = limit
		}
		if len(starts) != 1 || starts[0] != want {
			t.Fatalf("window %d: starts %v, want [%d]", window, starts, want)
		}
	}
}

// reference is the simplest statement of the matching rules, for the fuzzer
// to check Find against.
// Every 47 bytes with the key's shape are a candidate, whatever surrounds
// them (key-format.md: the checksum decides, not the neighbours).
var reference = regexp.MustCompile(`^atmx_(dev|stg|prd)_[0-9A-Za-z]{38}$`)

func referenceFind(s string) []Candidate {
	var out []Candidate
	for i := 0; i+KeyLen <= len(s); i++ {
		if !strings.HasPrefix(s[i:], Prefix) {
			continue
		}
		if !reference.MatchString(s[i : i+KeyLen]) {
			continue
		}
		out = append(out, Candidate{Start: i, End: i + KeyLen, Valid: Valid([]byte(s[i : i+KeyLen]))})
	}
	return out
}

func FuzzFind(f *testing.F) {
	for _, v := range vectors(f, "valid") {
		f.Add("k=" + v.key + "\n")
	}
	for _, v := range vectors(f, "not-keys") {
		f.Add(v.key)
	}
	f.Add("atmx_atmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj")
	for _, v := range vectors(f, "glued") {
		f.Add(v.key)
	}
	// A shape ending in "atmx" glued to the next key: overlapping candidates.
	f.Add("atmx_dev_0123456789ABCDEFGHIJKLMNOPQRSTUVWXatmx_prd_0123456789ABCDEFGHIJKLMNOPQRSTUV1wkvFj")
	f.Fuzz(func(t *testing.T, s string) {
		got := findAll(s)
		want := referenceFind(s)
		if len(got) != len(want) {
			t.Fatalf("Find = %+v, reference = %+v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("Find = %+v, reference = %+v", got, want)
			}
		}
		// The marked search reports the same candidates and fragments.
		var plain, marked []int
		FindFragments([]byte(s), func(c Candidate) { plain = append(plain, c.Start) }, func(at int) { plain = append(plain, -1-at) })
		FindFragmentsMarked([]byte(s), markX(s), func(c Candidate) { marked = append(marked, c.Start) }, func(at int) { marked = append(marked, -1-at) })
		if !slices.Equal(plain, marked) {
			t.Fatalf("FindFragments = %v, FindFragmentsMarked = %v", plain, marked)
		}
	})
}

// markX returns the marks of the ends of "atmx" in s that
// FindFragmentsMarked takes.
func markX(s string) []uint64 {
	xs := make([]uint64, (len(s)+63)/64)
	for i := 3; i < len(s); i++ {
		if s[i-3:i+1] == "atmx" {
			xs[i/64] |= 1 << (i % 64)
		}
	}
	return xs
}

// TestFindFragmentsMarked checks the marked search against FindFragments
// on text where 'x' and the prefix are dense, keys and fragments across
// the 64-byte words of the bitmap.
func TestFindFragmentsMarked(t *testing.T) {
	k := mustKey(t, Production)
	pieces := []string{k, "atmx", "atmx_prd_", "xx", "tmx", "mx", "a", "Zq", " ", "\n"}
	events := 0
	for trial := range 200 {
		var b strings.Builder
		for n := 0; b.Len() < 64*(1+trial%9); n++ {
			b.WriteString(pieces[(n*7+trial*3+n*n)%len(pieces)])
		}
		s := b.String()
		type ev struct {
			at   int
			frag bool
		}
		var plain, marked []ev
		FindFragments([]byte(s), func(c Candidate) { plain = append(plain, ev{c.Start, false}) }, func(at int) { plain = append(plain, ev{at, true}) })
		FindFragmentsMarked([]byte(s), markX(s), func(c Candidate) { marked = append(marked, ev{c.Start, false}) }, func(at int) { marked = append(marked, ev{at, true}) })
		events += len(plain)
		if !slices.Equal(plain, marked) {
			t.Fatalf("trial %d: FindFragments = %v, FindFragmentsMarked = %v", trial, plain, marked)
		}
	}
	if events < 200 {
		t.Fatalf("only %d candidates and fragments in all: the test data does not exercise the search", events)
	}
}

func BenchmarkFind(b *testing.B) {
	k, _ := Generate(Production)
	text := bytes.Repeat([]byte("func main() { fmt.Println(\"hello, world\") } // atmx is a word\n"), 1<<14)
	text = append(text, k...)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		n := 0
		Find(text, 0, true, func(c Candidate) { n++ })
		if n != 1 {
			b.Fatal(n)
		}
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}
