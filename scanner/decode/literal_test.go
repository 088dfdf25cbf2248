package decode

import (
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/patterns"
)

// splits returns the ways a key is written as literals joined in source;
// each is the text and the offset of the key's first character in it.
func splits(k string) []struct {
	name, text string
	at         int
} {
	type c = struct {
		name, text string
		at         int
	}
	return []c{
		{"js plus", `const key = "` + k[:9] + `" + "` + k[9:] + `";`, 13},
		{"js plus minified", `e="` + k[:20] + `"+"` + k[20:] + `",t=1`, 3},
		{"js single quotes, three pieces", `x = '` + k[:5] + `' + '` + k[5:30] + `' + '` + k[30:] + `'`, 5},
		{"java concat across lines", "String k = \"" + k[:12] + "\" +\n        \"" + k[12:] + "\";", 12},
		{"java .concat", `String k = "` + k[:9] + `".concat("` + k[9:] + `");`, 12},
		{"go plus", "var k = \"" + k[:9] + "\" +\n\t\"" + k[9:] + "\"", 9},
		{"python adjacent in parens", "KEY = (\n    \"" + k[:15] + "\"\n    \"" + k[15:] + "\"\n)", 13},
		{"python backslash continuation", "KEY = '" + k[:9] + "' \\\n    '" + k[9:] + "'", 7},
		{"shell adjacent", `export K="` + k[:10] + `""` + k[10:] + `"`, 10},
		{"shell mixed quotes", `K='` + k[:10] + `'"` + k[10:] + `"`, 3},
		{"array join", `const k = ["` + k[:9] + `", "` + k[9:28] + `", "` + k[28:] + `"].join("");`, 12},
		{"template of literals", "const k = `" + k[:9] + "${\"" + k[9:20] + "\"}" + k[20:] + "`;", 11},
		{"template with spaces", "k = `" + k[:5] + "${ '" + k[5:9] + "' }" + k[9:] + "`", 5},

		{"split after atmx", `k = "atmx" + "` + k[4:] + `"`, 5},
		{"glued to text", `url = "https://api.example/?key=` + k[:9] + `" + "` + k[9:] + `&x=1"`, 32},
	}
}

func TestSplitLiterals(t *testing.T) {
	for _, tc := range splits(testkit.NewKey(t, patterns.Production)) {
		t.Run(tc.name, func(t *testing.T) {
			k := testkit.NewKey(t, patterns.Production)
			var c struct {
				name, text string
				at         int
			}
			for _, x := range splits(k) {
				if x.name == tc.name {
					c = x
				}
			}
			prefix := "// some code\nfunction f() { return 1 }\n"
			var valid []got
			for _, g := range scanAll(prefix+c.text+"\n", Options{AtEOF: true}) {
				if g.valid {
					valid = append(valid, g)
				}
			}
			if len(valid) != 1 || valid[0].key != k {
				t.Fatalf("want the key once, got %+v", redact(valid))
			}
			if valid[0].chain != KindSplitLiteral {
				t.Errorf("chain %q, want %q", valid[0].chain, KindSplitLiteral)
			}
			if want := len(prefix) + c.at; valid[0].start != want {
				t.Errorf("start %d, want %d (the first piece's)", valid[0].start, want)
			}
		})
	}
}

// TestSplitLiteralsNested: the joiner runs on decoded levels too (a
// minified bundle inside a JSON string, with escaped quotes).
func TestSplitLiteralsNested(t *testing.T) {
	k := testkit.NewKey(t, patterns.Staging)
	js := `e="` + k[:9] + `"+"` + k[9:] + `"`
	text := `{"code":"` + strings.ReplaceAll(js, `"`, `\"`) + `"}`
	for _, g := range scanAll(text, Options{AtEOF: true}) {
		if g.valid && g.key == k && g.chain == "json-escape,"+KindSplitLiteral {
			return
		}
	}
	t.Fatalf("key not found through json-escape then split literals: %+v", redact(scanAll(text, Options{AtEOF: true})))
}

// TestSplitLiteralNearMisses: a split key with one character wrong is a
// near miss, never a key; pieces that are not joined by any syntax the
// joiner knows are not assembled.
func TestSplitLiteralNearMisses(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	bad := badKey(k)
	gs := scanAll(`k = "`+bad[:9]+`" + "`+bad[9:]+`"`, Options{AtEOF: true, NearMisses: true})
	if len(gs) != 1 || gs[0].valid || gs[0].chain != KindSplitLiteral {
		t.Fatalf("want one split-literal near miss, got %+v", redact(gs))
	}
	for name, text := range map[string]string{
		"minus":             `k = "` + k[:9] + `" - "` + k[9:] + `"`,
		"function call":     `k = "` + k[:9] + `" + f("` + k[9:] + `")`,
		"computed":          `k = "` + k[:9] + `" + x + "` + k[9:] + `"`,
		"template computed": "k = `" + k[:9] + "${x}" + k[9:] + "`",
		"one char short":    `k = "` + k[:9] + `" + "` + k[10:] + `"`,
		"upper case head":   `k = "ATMX_PRD_" + "` + k[9:] + `"`,
		"gap too wide":      `k = "` + k[:9] + `" +` + strings.Repeat(" ", 80) + `"` + k[9:] + `"`,
		"quotes mismatched": `k = "` + k[:9] + `" + "` + k[9:20] + `' + '` + k[20:] + `"`,
	} {
		t.Run(name, func(t *testing.T) {
			for _, g := range scanAll(text, Options{AtEOF: true}) {
				if g.valid {
					t.Fatalf("reported %s (chain %q)", patterns.Redact([]byte(g.key)), g.chain)
				}
			}
		})
	}
}

// TestSplitLiteralBudget: text dense with triggers stays inside the budget.
func TestSplitLiteralBudget(t *testing.T) {
	for name, unit := range map[string]string{
		"heads":        `"atmx_prd_"+`,
		"x triggers":   `"atm"+"x_`,
		"empty pieces": `atmx""""""""""""`,
		"max_":         "max_ index_ ",
	} {
		t.Run(name, func(t *testing.T) {
			data := []byte(strings.Repeat(unit, (1<<20)/len(unit)))
			s := NewScanner()
			res := s.Scan(data, Options{Depth: DefaultDepth, AtEOF: true}, func(Match) {})
			if spent := s.spent; res.Exhausted || spent > 4*len(data) {
				t.Fatalf("%d bytes in, %d decoded, exhausted %v", len(data), spent, res.Exhausted)
			}
		})
	}
}

// FuzzJoinLiterals: the joiner never panics, returns at most a key's
// bytes, and invents nothing: every byte it returns is a byte of the
// input, in order, and what it skips between two of them is only the
// syntax that joins literals (quotes, white space, '+', ',', ".concat(",
// a backslash continuation, a template's "${" and "}"), never more than
// maxLitGap bytes at a time.
func FuzzJoinLiterals(f *testing.F) {
	k, _ := patterns.Generate(patterns.Production)
	for _, c := range splits(k) {
		f.Add(c.text, c.at)
	}
	f.Add(`"a"+"t"+"m"+"x_prd_"`, 1)
	f.Add("`atmx_${'prd'}_${`x`}`", 1)
	f.Fuzz(func(t *testing.T, text string, at int) {
		b := []byte(text)
		if len(b) == 0 {
			return
		}
		at = ((at % len(b)) + len(b)) % len(b)
		for _, back := range []int{0, 3} {
			out, pos, gaps := joinLiterals(nil, nil, b, at, back)
			if len(out) > patterns.KeyLen || len(out) != len(pos) || gaps > maxLitPieces {
				t.Fatalf("%d bytes, %d positions, %d gaps", len(out), len(pos), gaps)
			}
			for i := range out {
				if int(pos[i]) < 0 || int(pos[i]) >= len(b) || b[pos[i]] != out[i] {
					t.Fatalf("byte %d not the input's at %d", i, pos[i])
				}
				if i == 0 {
					continue
				}
				if pos[i] <= pos[i-1] {
					t.Fatalf("positions not increasing: %v", pos)
				}
				gap := string(b[pos[i-1]+1 : pos[i]])
				if len(gap) > 2*maxLitGap+2 {
					t.Fatalf("skipped %d bytes", len(gap))
				}
				rest := strings.NewReplacer(".concat(", "", "${", "", "}", "").Replace(gap)
				if strings.Trim(rest, "\"'` \t\r\n+,\\") != "" {
					t.Fatalf("skipped %q, which joins no literals", gap)
				}
				if !strings.ContainsAny(gap, "\"'`") && gap != "" {
					t.Fatalf("skipped %q without a quote", gap)
				}
			}
		}
	})
}
