package decode

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

type got struct {
	start int
	chain string
	key   string
	valid bool
}

func scanAll(text string, opt Options) []got {
	var out []got
	if opt.Depth == 0 {
		opt.Depth = DefaultDepth
	}
	NewScanner().Scan([]byte(text), opt, func(m Match) {
		out = append(out, got{m.Start, strings.Join(m.Chain, ","), string(m.Key), m.Valid})
	})
	slices.SortFunc(out, func(a, b got) int { return a.start - b.start })
	return out
}

// encoding is one way to hide a key: enc writes it, chain is what the
// scanner must report, at is where the key's encoded form starts in enc.
type encoding struct {
	name  string
	enc   func(k string) string
	chain string
	at    func(k string) int
}

func at0(string) int { return 0 }

func encodings() []encoding {
	return []encoding{
		{"base64 std padded", b64std, "base64", at0},
		{"base64 url padded", b64url, "base64", at0},
		{"base64 raw", b64raw, "base64", at0},
		{"base64 raw url", b64rawURL, "base64", at0},
		{"base64 after a word in the payload", func(k string) string { return b64std("KEY=" + k + "\n") }, "base64", func(string) int { return 5 }},
		{"base64 payload at offset 2", func(k string) string { return b64std("k=" + k) }, "base64", func(string) int { return 2 }},
		{"base64 json payload", func(k string) string { return b64std(`{"apiKey":"` + k + `","env":"prod"}`) }, "base64", func(string) int { return 14 }},
		{"base64 wrapped 64 LF", func(k string) string { return wrap(b64std("secret: "+k+"\n"+strings.Repeat("x", 100)), 64, "\n", "") }, "base64", func(string) int { return 10 }},
		{"base64 wrapped 76 CRLF", func(k string) string {
			return wrap(b64std(strings.Repeat("lorem ipsum ", 5)+k+" tail"), 76, "\r\n", "")
		}, "base64", func(string) int { return 80 + 2 }},
		{"base64 wrapped indented (yaml)", func(k string) string {
			return wrap(b64std(strings.Repeat("y", 40)+" "+k), 64, "\n", "    ")
		}, "base64", func(string) int { return 54 }},
		{"base64 after a path (misaligned run)", func(k string) string { return "/v1/x/" + b64raw(k) }, "base64", func(string) int { return 6 }},
		{"data URI", func(k string) string { return "data:text/plain;base64," + b64std(k) }, "base64", func(string) int { return 23 }},
		{"percent all", pctAll, "percent", at0},
		{"percent underscores only", func(k string) string { return pctSome(k, "_") }, "percent", at0},
		{"percent mixed", func(k string) string { return pctSome(k, "aeiouAEIOU0123_") }, "percent", at0},
		// Glued to the escape's last digit: seen plainly (key-format.md).
		{"percent quoted in a query", func(k string) string { return "?q=%22" + k + "%22&x=1" }, "", func(string) int { return 6 }},
		{"js \\u all", jsU, "json-escape", at0},
		{"js \\x all", jsX, "json-escape", at0},
		{"js \\u{} all", jsBrace, "json-escape", at0},
		{"js partly escaped", func(k string) string { return k[:4] + `\u005f` + k[5:8] + `\u005F` + k[9:] }, "json-escape", at0},
		{"js body escaped", func(k string) string { return k[:20] + jsU(k[20:30]) + k[30:] }, "json-escape", at0},
		{"js newline escape before", func(k string) string { return `"line\n` + k + `"` }, "", func(string) int { return 7 }},
		{"html decimal", htmlDec, "html-entity", at0},
		{"html hex", htmlHex, "html-entity", at0},
		{"html lowbar", func(k string) string { return strings.ReplaceAll(k, "_", "&lowbar;") }, "html-entity", at0},
		{"html UnderBar", func(k string) string { return strings.ReplaceAll(k, "_", "&UnderBar;") }, "html-entity", at0},
		{"html decimal no semicolon", func(k string) string { return strings.Replace(k, "_", "&#95", 1) }, "html-entity", at0},
		{"utf-16le", func(k string) string { return utf16le(k, false) }, "utf-16le", at0},
		{"utf-16le bom", func(k string) string { return utf16le(k, true) }, "utf-16le", func(string) int { return 2 }},
		{"utf-16be bom", func(k string) string { return utf16be(k, true) }, "utf-16be", func(string) int { return 3 }},
		{"utf-16be", func(k string) string { return utf16be(k, false) }, "utf-16be", func(string) int { return 1 }},
		{"utf-16le text", func(k string) string { return utf16le("token = '"+k+"';\r\n", true) }, "utf-16le", func(string) int { return 2 + 18 }},
		{"base64 of json with \\u escapes", func(k string) string { return b64std(`{"k":"` + jsU(k) + `"}`) }, "base64,json-escape", func(string) int { return 8 }},
		{"base64 of base64", func(k string) string { return b64std(b64std(k)) }, "base64,base64", at0},
		{"base64 of base64 of base64", func(k string) string { return b64std(b64std(b64std(k))) }, "base64,base64,base64", at0},
		{"base64 of utf-16le (powershell)", func(k string) string { return b64std(utf16le("$env:K='"+k+"'", false)) }, "base64,utf-16le", func(string) int { return 21 }},
		{"percent-encoded base64", func(k string) string {
			return "?t=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(b64std("\xfb\xff"+k+"\xfb\xff"))
		}, "percent,base64|base64", nil},
		{"json-escaped base64 with \\/", func(k string) string {
			return `"` + strings.ReplaceAll(b64std("\xff\xff\xff"+k), "/", `\/`) + `"`
		}, "json-escape,base64|base64", nil},
		{"double percent", func(k string) string { return strings.ReplaceAll(pctAll(k), "%", "%25") }, "percent,percent", at0},
		{"html of json escape", func(k string) string { return strings.ReplaceAll(jsU(k), `\`, "&#92;") }, "html-entity,json-escape", at0},
		{"html double encoded", func(k string) string { return strings.ReplaceAll(k, "_", "&amp;#95;") }, "html-entity,html-entity", at0},
	}
}

// TestEncodedKeyInJunk hides a fresh key in every encoding, between junk,
// and wants it found once, with the right chain and position.
func TestEncodedKeyInJunk(t *testing.T) {
	for _, e := range encodings() {
		t.Run(e.name, func(t *testing.T) {
			for _, env := range patterns.Environments {
				k := testkit.NewKey(t, env)
				enc := e.enc(k)
				prefix := "// junk before, with words and 50% of stuff & more \\ here\nline two: "
				if len(prefix)%2 == 1 { // UTF-16 without a BOM: even offsets read as little-endian
					prefix += " "
				}
				text := prefix + enc + " and junk after\n" + strings.Repeat("z", 30)
				gs := scanAll(text, Options{AtEOF: true})
				var valid []got
				for _, g := range gs {
					if g.valid {
						valid = append(valid, g)
					}
				}
				if len(valid) != 1 {
					t.Fatalf("%d valid matches, want 1: %+v", len(valid), redact(valid))
				}
				g := valid[0]
				if g.key != k {
					t.Fatalf("match %s is not the key %s", patterns.Redact([]byte(g.key)), patterns.Redact([]byte(k)))
				}
				if !slices.Contains(strings.Split(e.chain, "|"), g.chain) {
					t.Errorf("chain %q, want %q", g.chain, e.chain)
				}
				if e.at != nil {
					if want := len(prefix) + e.at(k); g.start != want {
						t.Errorf("start %d, want %d", g.start, want)
					}
				} else if g.start < len(prefix) || g.start >= len(prefix)+len(enc) {
					t.Errorf("start %d outside the encoded text [%d, %d)", g.start, len(prefix), len(prefix)+len(enc))
				}
			}
		})
	}
}

func redact(gs []got) []got {
	out := slices.Clone(gs)
	for i := range out {
		out[i].key = patterns.Redact([]byte(out[i].key))
	}
	return out
}

// TestDecoys: encoded things that are not keys are not reported.
func TestDecoys(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	bad := badKey(k)
	b64 := b64std(k)
	decoys := map[string]string{
		"bad checksum base64":        b64std(bad),
		"bad checksum percent":       pctAll(bad),
		"bad checksum js":            jsU(bad),
		"bad checksum html":          htmlDec(bad),
		"bad checksum utf-16":        utf16le(bad, true),
		"bad checksum nested":        b64std(`{"k":"` + jsU(bad) + `"}`),
		"wrong environment, base64":  b64std("atmx_qa1_" + k[9:]),
		"truncated base64":           b64[:60],
		"truncated base64 mid group": b64[:62],
		"one char short, js":         jsU(k[:46]),
		"upper case prefix, base64":  b64std(strings.ToUpper(k[:9]) + k[9:]),
	}
	for name, text := range decoys {
		t.Run(name, func(t *testing.T) {
			for _, g := range scanAll("x "+text+" y", Options{AtEOF: true}) {
				if g.valid {
					t.Fatalf("reported %s (chain %q) in a decoy", patterns.Redact([]byte(g.key)), g.chain)
				}
			}
		})
	}
}

// TestGluedEncoded: a key glued to what precedes or follows it is a key
// under every encoding too (key-format.md: the checksum decides).
func TestGluedEncoded(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	glued := map[string]string{
		"before, base64":     b64std("x" + k),
		"after, base64":      b64std(k + "0"),
		"underscore, base64": b64std("_" + k),
		"before, percent":    "%78" + pctAll(k),
		"before, js":         `\u0078` + jsU(k),
		"before, html":       "&#120;" + htmlDec(k),
		"before, utf-16":     utf16le("x"+k, true),
		"word glue, percent": "abc" + pctSome(k, "_"),
	}
	for name, text := range glued {
		t.Run(name, func(t *testing.T) {
			var valid []got
			for _, g := range scanAll("x "+text+" y", Options{AtEOF: true}) {
				if g.valid {
					valid = append(valid, g)
				}
			}
			if len(valid) != 1 || valid[0].key != k {
				t.Fatalf("want the key once, got %+v", redact(valid))
			}
		})
	}
}

func TestNearMissDecoded(t *testing.T) {
	bad := badKey(testkit.NewKey(t, patterns.Staging))
	gs := scanAll("v="+b64std(bad), Options{AtEOF: true, NearMisses: true})
	if len(gs) != 1 || gs[0].valid || gs[0].chain != "base64" {
		t.Fatalf("want one base64 near miss, got %+v", redact(gs))
	}
	if gs := scanAll("v="+b64std(bad), Options{AtEOF: true}); len(gs) != 0 {
		t.Fatalf("near misses reported unasked: %+v", redact(gs))
	}
}

func TestPlainOnlyAtDepthZero(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	text := k + " " + b64std(k)
	var n int
	NewScanner().Scan([]byte(text), Options{AtEOF: true}, func(m Match) {
		n++
		if m.Chain != nil || m.Start != 0 {
			t.Errorf("depth 0 reported %v at %d", m.Chain, m.Start)
		}
	})
	if n != 1 {
		t.Fatalf("depth 0 found %d, want the plain key only", n)
	}
}

// TestPlainAndEncodedTogether: a plain key and its encodings are separate
// occurrences; the same occurrence reached twice is reported once.
func TestPlainAndEncodedTogether(t *testing.T) {
	k := testkit.NewKey(t, patterns.Development)
	text := "a=" + k + "\nb=" + b64std(k) + "\nc=" + pctSome(k, "_") + "\n"
	gs := scanAll(text, Options{AtEOF: true})
	var chains []string
	for _, g := range gs {
		chains = append(chains, g.chain)
	}
	if want := []string{"", "base64", "percent"}; !slices.Equal(chains, want) {
		t.Fatalf("chains %q, want %q", chains, want)
	}
}

// TestManyKeysInOneRun: a PEM-like wrapped block holding several keys.
func TestManyKeysInOneRun(t *testing.T) {
	var payload strings.Builder
	var keys []string
	for i := range 20 {
		k := testkit.NewKey(t, patterns.Environments[i%3])
		keys = append(keys, k)
		payload.WriteString(strings.Repeat("#", i) + " " + k + "\n")
	}
	text := "-----BEGIN SECRETS-----\n" + wrap(b64std(payload.String()), 64, "\n", "") + "\n-----END SECRETS-----\n"
	gs := scanAll(text, Options{AtEOF: true})
	if len(gs) != len(keys) {
		t.Fatalf("found %d, want %d", len(gs), len(keys))
	}
	for i, g := range gs {
		if g.key != keys[i] || g.chain != "base64" {
			t.Fatalf("match %d: %s %q", i, patterns.Redact([]byte(g.key)), g.chain)
		}
	}
}

// TestLimitAndCarry checks the streaming contract of Scan: windows that
// overlap by Overlap, each reporting matches before its Limit and passing
// Result.Carry on, find every key exactly once, whatever the window size.
func TestLimitAndCarry(t *testing.T) {
	k1, k2, k3 := testkit.NewKey(t, patterns.Production), testkit.NewKey(t, patterns.Staging), testkit.NewKey(t, patterns.Development)
	var b bytes.Buffer
	b.WriteString(strings.Repeat("lorem ipsum dolor\n", 30))
	b.WriteString(wrap(b64std(strings.Repeat("q", 300)+" "+k1+" "+strings.Repeat("w", 499)), 76, "\r\n", ""))
	b.WriteString("\n" + pctAll(k2) + "\n")
	b.WriteString(utf16le("x = "+k3, true))
	b.WriteString(strings.Repeat("\nend", 30))
	data := b.Bytes()
	want := scanAll(string(data), Options{AtEOF: true})
	if len(want) != 3 {
		t.Fatalf("whole buffer: %d matches, want 3: %+v", len(want), redact(want))
	}
	for _, win := range []int{1, 7, 64, 100, 333, 1000, 2500} {
		var gs []got
		sc := NewScanner()
		carry := 0
		for lo := 0; lo < len(data); {
			hi := min(lo+win+Overlap, len(data))
			atEOF := hi == len(data)
			var before byte
			if lo > 0 {
				before = data[lo-1]
			}
			limit := hi - lo
			if !atEOF {
				limit = hi - lo - Overlap
			}
			res := sc.Scan(data[lo:hi], Options{Depth: DefaultDepth, Before: before, AtEOF: atEOF, Limit: limit, Carry: carry, Offset: int64(lo)}, func(m Match) {
				gs = append(gs, got{lo + m.Start, strings.Join(m.Chain, ","), string(m.Key), m.Valid})
			})
			carry = res.Carry
			if atEOF {
				break
			}
			lo += limit
		}
		slices.SortFunc(gs, func(a, b got) int { return a.start - b.start })
		if !slices.Equal(gs, want) {
			t.Fatalf("window %d: %+v, want %+v", win, redact(gs), redact(want))
		}
	}
}

// TestCarryNested: a long base64 run whose alignment only the carry tells,
// holding base64 of a key (nested), split across windows.
func TestCarryNested(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	inner := b64std(strings.Repeat("i", 36) + " " + k)
	data := []byte("z " + b64std(strings.Repeat("o", 9000)+inner+strings.Repeat("o", 50)) + " z")
	want := scanAll(string(data), Options{AtEOF: true})
	if len(want) != 1 || want[0].chain != "base64,base64" {
		t.Fatalf("whole buffer: %+v", redact(want))
	}
	for _, win := range []int{500, 1001, 4096, 7777} {
		var gs []got
		sc := NewScanner()
		carry := 0
		for lo := 0; lo < len(data); {
			hi := min(lo+win+Overlap, len(data))
			atEOF := hi == len(data)
			limit := hi - lo
			if !atEOF {
				limit = hi - lo - Overlap
			}
			res := sc.Scan(data[lo:hi], Options{Depth: DefaultDepth, Before: data[max(lo-1, 0)], AtEOF: atEOF, Limit: limit, Carry: carry}, func(m Match) {
				gs = append(gs, got{lo + m.Start, strings.Join(m.Chain, ","), string(m.Key), m.Valid})
			})
			carry = res.Carry
			if atEOF {
				break
			}
			lo += limit
		}
		if !slices.Equal(gs, want) {
			t.Fatalf("window %d: %+v, want %+v", win, redact(gs), redact(want))
		}
	}
}

// TestBudget: decoding work stays within the budget on input made to
// multiply it (dense escapes that decode to more escapes, nested base64 and
// UTF-16), and when the budget runs out the scan says so and still finds
// plain keys.
func TestBudget(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	inputs := map[string]string{
		"percent":        strings.Repeat("%41", 50000),
		"double percent": strings.Repeat("%2541", 50000),
		"triple percent": strings.Repeat("%252541", 50000),
		// "\/" alone decodes to "////", base64 of 0xff bytes, which the
		// prefilter passes over; one slash a group decodes to ASCII and
		// nests.
		"escaped slashes": strings.Repeat(`\/AAA`, 50000),
		"entities":        strings.Repeat("&amp;#x41;", 50000),
		"nested base64":   b64std(strings.Repeat(b64std(strings.Repeat(`\/`, 1000)), 50)),
		"utf-16 base64":   b64std(utf16le(strings.Repeat(b64std(utf16le(strings.Repeat("a", 1000), false)), 20), false)),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			s := NewScanner()
			res := s.Scan([]byte(in), Options{Depth: DefaultDepth, AtEOF: true}, func(Match) {})
			spent := s.spent
			if res.Exhausted || spent > 4*len(in) {
				t.Errorf("decoded %d bytes for %d (%.1f a byte), exhausted %v", spent, len(in), float64(spent)/float64(len(in)), res.Exhausted)
			}
			s.tight = true
			in := " " + in + " " + k + " "
			n := 0
			res = s.Scan([]byte(in), Options{Depth: DefaultDepth, AtEOF: true}, func(Match) { n++ })
			if !res.Exhausted || n != 1 || res.ExhaustedAt < 0 || res.ExhaustedAt > len(in)-patterns.KeyLen {
				t.Errorf("small budget: exhausted %v at %d, %d matches; want true, 1", res.Exhausted, res.ExhaustedAt, n)
			}
		})
	}
}

// A region whose budget runs out does not hide what comes after it: about
// 50 KB of escapes nested three ways deep used up the whole buffer's budget,
// and a key after them written with \u005f or %5F was missed. Each region
// has its own budget now and borrows from the buffer's within limits; with
// 500 KB of such escapes some regions run out, the scan says so and where,
// and the key after them is found.
func TestBudgetRunsOutLocally(t *testing.T) {
	k := testkit.NewKey(t, patterns.Production)
	filler := strings.Repeat(`%2541\x41&#65;\u0025&#37;`, 20000)
	for name, key := range map[string]string{
		"js":      strings.ReplaceAll(k, "_", `\u005f`),
		"percent": strings.ReplaceAll(k, "_", "%5F"),
		"html":    strings.ReplaceAll(k, "_", "&#95;"),
		"base64":  b64std("key=" + k),
		"nested":  strings.ReplaceAll(k, "_", "%255F"),
	} {
		in := filler + " " + key + " "
		s := NewScanner()
		n := 0
		res := s.Scan([]byte(in), Options{Depth: DefaultDepth, AtEOF: true}, func(m Match) {
			if m.Valid {
				n++
			}
		})
		if n != 1 {
			t.Errorf("%s: %d keys after %d bytes of nested escapes, want 1", name, n, len(filler))
		}
		if !res.Exhausted || res.ExhaustedAt < 0 || res.ExhaustedAt >= len(filler) || res.ExhaustedRegions == 0 {
			t.Errorf("%s: %+v, want a region of the filler reported exhausted", name, res)
		}
		if s.spent > (2*regionPerByte*4+budgetPerByte)*len(in)+budgetBase {
			t.Errorf("%s: decoded %d bytes for %d", name, s.spent, len(in))
		}
	}
}
