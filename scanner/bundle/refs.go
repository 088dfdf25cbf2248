package bundle

import (
	"bytes"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/net/html"
)

// RefKind says what a referenced URL is expected to hold.
type RefKind int

const (
	RefScript RefKind = iota + 1 // JavaScript: script src, preloads, imports, chunks
	RefStyle                     // a stylesheet
	RefMap                       // a source map
	RefPage                      // another page (a link)
	RefBase                      // <base href>: what relative references resolve against
)

func (k RefKind) String() string {
	return [...]string{"", "script", "style", "sourcemap", "page", "base"}[k]
}

// Ref is a URL, as written (relative or not), that a page, bundle or
// stylesheet loads.
type Ref struct {
	URL  string
	Kind RefKind
}

// Refs lists what data, of kind k, loads: the crawler's next URLs. It reads
// text only; nothing is executed. Bare module specifiers ("react") are
// left out: a browser cannot fetch them without an import map.
func Refs(k Kind, data []byte) []Ref {
	var out []Ref
	switch k {
	case HTML:
		out = htmlRefs(data)
	case JS:
		out = jsRefs(data)
	case CSS:
		out = cssRefs(data)
	}
	return out
}

func htmlRefs(data []byte) []Ref {
	var out []Ref
	add := func(u string, k RefKind) {
		if u = strings.TrimSpace(u); u != "" && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "#") {
			out = append(out, Ref{URL: u, Kind: k})
		}
	}
	z := html.NewTokenizer(bytes.NewReader(data))
	inside := ""
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return out
		case html.TextToken:
			switch inside {
			case "script":
				out = append(out, jsRefs(z.Raw())...)
			case "style":
				out = append(out, cssRefs(z.Raw())...)
			}
			inside = ""
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			attrs := map[string]string{}
			for more := true; more; {
				var k, v []byte
				k, v, more = z.TagAttr()
				if len(k) == 0 {
					break
				}
				if _, dup := attrs[string(k)]; !dup {
					attrs[string(k)] = string(v)
				}
			}
			inside = ""
			switch string(name) {
			case "script":
				if src, ok := attrs["src"]; ok {
					add(src, RefScript)
				} else if tt == html.StartTagToken && scriptIsJS(attrs["type"]) {
					inside = "script"
				}
			case "style":
				inside = "style"
			case "link":
				rel := " " + strings.ToLower(attrs["rel"]) + " "
				as := strings.ToLower(attrs["as"])
				switch {
				case strings.Contains(rel, " modulepreload "),
					strings.Contains(rel, " preload ") && as == "script":
					add(attrs["href"], RefScript)
				case strings.Contains(rel, " stylesheet "),
					strings.Contains(rel, " preload ") && as == "style":
					add(attrs["href"], RefStyle)
				}
			case "a", "area":
				add(attrs["href"], RefPage)
			case "iframe", "frame":
				add(attrs["src"], RefPage)
			case "base":
				add(attrs["href"], RefBase)
			}
		default:
			inside = ""
		}
	}
}

// scriptIsJS reports whether a script element's type runs as JavaScript
// (import maps, JSON and templates do not, and hold no imports).
func scriptIsJS(t string) bool {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "", "module", "text/javascript", "application/javascript", "text/ecmascript", "application/ecmascript":
		return true
	}
	return false
}

// The reference patterns are compiled on first use: at package init every
// run of the binary paid for them, the pre-commit hook too.
var (
	// import("./chunk.js"), with webpack's magic comments allowed.
	dynImport = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\bimport\s*\(\s*(?:/\*[^*]*\*/\s*)*["'` + "`" + `]([^"'` + "`" + `\s]+)["'` + "`" + `]\s*[),]`)
	})
	// import x from "./a.js", import "./b.js", export * from "./c.js".
	staticImport = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\b(?:import|export)\s*(?:[\w$\s{},*]*?\bfrom\s*)?["']([^"'\s]+)["']`)
	})
	// webpack's chunk file name function: "static/js/"+e+"."+{1:"ab12"}[e]+".chunk.js".
	webpackChunks = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`"([^"\s]*)"\s*\+\s*([\w$]+)\s*\+\s*"\."\s*\+\s*\{([^{}]*)\}\s*\[\s*([\w$]+)\s*\]\s*\+\s*"([^"\s]*)"`)
	})
	webpackPair = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`["']?([\w$.-]+)["']?\s*:\s*"([\w.-]+)"`) })
	// __webpack_require__.p = "/assets/" (minified: r.p="/assets/").
	webpackPublic = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b[\w$]+\.p\s*=\s*"([^"\s]*)"`) })
	cssImport     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`@import\s+(?:url\(\s*)?["']?([^"')\s;]+)`) })
)

func jsRefs(data []byte) []Ref {
	var out []Ref
	if u, _ := commentValue(data, "sourceMappingURL="); u != "" && !strings.HasPrefix(u, "data:") {
		out = append(out, Ref{URL: u, Kind: RefMap})
	}
	for _, re := range []*regexp.Regexp{dynImport(), staticImport()} {
		for _, m := range re.FindAllSubmatch(data, -1) {
			if u := string(m[1]); fetchable(u) {
				out = append(out, Ref{URL: u, Kind: RefScript})
			}
		}
	}
	public := ""
	if m := webpackPublic().FindSubmatch(data); m != nil {
		public = string(m[1])
	}
	for _, m := range webpackChunks().FindAllSubmatch(data, -1) {
		if string(m[2]) != string(m[4]) {
			continue // not the same chunk id variable: not the pattern
		}
		for _, p := range webpackPair().FindAllSubmatch(m[3], -1) {
			out = append(out, Ref{URL: public + string(m[1]) + string(p[1]) + "." + string(p[2]) + string(m[5]), Kind: RefScript})
		}
	}
	return out
}

func cssRefs(data []byte) []Ref {
	var out []Ref
	if u, _ := commentValue(data, "sourceMappingURL="); u != "" && !strings.HasPrefix(u, "data:") {
		out = append(out, Ref{URL: u, Kind: RefMap})
	}
	for _, m := range cssImport().FindAllSubmatch(data, -1) {
		out = append(out, Ref{URL: string(m[1]), Kind: RefStyle})
	}
	return out
}

// fetchable reports whether an import specifier names a URL (relative,
// root-relative or absolute), not a bare package name.
func fetchable(u string) bool {
	return strings.HasPrefix(u, "./") || strings.HasPrefix(u, "../") || strings.HasPrefix(u, "/") ||
		strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")
}
