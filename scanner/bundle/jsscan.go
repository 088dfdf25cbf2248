package bundle

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// evalModule is a webpack "eval" devtool module: a string literal passed to
// eval, whose text ends with //# sourceURL=<original path>.
type evalModule struct {
	start, end int // the literal's contents, quotes excluded
	sourceURL  string
	mapURL     string // a sourceMappingURL inside the module, if any
	mapAt      int    // offset of mapURL in the enclosing text
}

var evalOpen, sourceURL = []byte("eval("), []byte("sourceURL=")

// findEvalModules lists eval("...") literals in js that name a sourceURL.
func findEvalModules(js []byte) []evalModule {
	// Text without "sourceURL=" has none; looked for by its rare 'U'
	// first, where looking for "eval(" by its 'v' stopped in every
	// other word of code.
	if indexBy(js, sourceURL, 6) < 0 {
		return nil
	}
	var mods []evalModule
	for i := 0; ; {
		j := indexBy(js[i:], evalOpen, 1) // 'v' is rarer in code than 'e'
		if j < 0 {
			return mods
		}
		q := i + j + len(evalOpen)
		i = q
		for q < len(js) && (js[q] == ' ' || js[q] == '\n' || js[q] == '\t' || js[q] == '\r') {
			q++
		}
		if q >= len(js) || (js[q] != '"' && js[q] != '\'' && js[q] != '`') {
			continue
		}
		end, ok := literalEnd(js, q)
		if !ok {
			continue
		}
		lit := js[q+1 : end]
		i = end + 1
		u, _ := commentValue(lit, "sourceURL=")
		if u == "" {
			continue
		}
		if k := strings.IndexByte(u, '?'); k >= 0 {
			u = u[:k]
		}
		m := evalModule{start: q + 1, end: end, sourceURL: u}
		if mu, at := commentValue(lit, "sourceMappingURL="); mu != "" {
			m.mapURL, m.mapAt = mu, q+1+at
		}
		mods = append(mods, m)
	}
}

// indexBy is bytes.Index(b, sep), found by looking for sep[k] with the
// vectorised bytes.IndexByte: with a k whose byte is rare in the text,
// this beats bytes.Index, which looks for sep[0] first ('e', 's': in
// every other word of code).
func indexBy(b, sep []byte, k int) int {
	tail := len(sep) - 1 - k // bytes of sep after sep[k]
	for off := k; off < len(b)-tail; {
		j := bytes.IndexByte(b[off:len(b)-tail], sep[k])
		if j < 0 {
			return -1
		}
		i := off + j - k
		if bytes.Equal(b[i:i+len(sep)], sep) {
			return i
		}
		off += j + 1
	}
	return -1
}

// literalEnd returns the offset of the quote closing the JavaScript string
// literal opened at js[q].
func literalEnd(js []byte, q int) (int, bool) {
	quote := js[q]
	for i := q + 1; i < len(js); i++ {
		switch c := js[i]; {
		case c == '\\':
			i++
		case c == quote:
			return i, true
		case c == '\n' && quote != '`':
			return 0, false
		}
	}
	return 0, false
}

// commentValue finds the last "//# name" (or "//@", "/*#", "/*@") comment
// in b and returns its value and the value's offset. Values end at
// whitespace, a quote, a backslash (an escaped newline inside a literal) or
// "*/".
func commentValue(b []byte, name string) (string, int) {
	return lastComment(b, name, nil)
}

// lastComment is commentValue skipping comments at offsets skip rejects.
// It searches forward and keeps the last comment that qualifies: a
// forward literal search is vectorised, a backward one is not, and most
// files have no such comment at all.
func lastComment(b []byte, name string, skip func(off int) bool) (string, int) {
	key := []byte(name)
	rare := max(strings.IndexByte(name, 'U'), 0) // "…URL=": capitals are rare in code
	val, at := "", 0
	for from := 0; ; {
		j := indexBy(b[from:], key, rare)
		if j < 0 {
			return val, at
		}
		i := from + j
		from = i + 1
		if i < 4 || (b[i-3] != '/' && b[i-3] != '*') || b[i-4] != '/' || (b[i-2] != '#' && b[i-2] != '@') || b[i-1] != ' ' {
			continue
		}
		if skip != nil && skip(i) {
			continue
		}
		v := i + len(key)
		e := v
		for e < len(b) {
			c := b[e]
			if c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '"' || c == '\'' || c == '`' || c == '\\' ||
				c == '*' && e+1 < len(b) && b[e+1] == '/' {
				break
			}
			e++
		}
		if e == v {
			continue
		}
		val, at = string(b[v:e]), v
	}
}

// moduleLine is the 1-based line, within the evaluated module, of the byte
// at off in the literal js[start:]: escaped newlines count.
func moduleLine(js []byte, start, off int) int {
	line := 1
	for i := start; i < off && i < len(js); i++ {
		switch js[i] {
		case '\\':
			if i+1 < len(js) && js[i+1] == 'n' {
				line++
			}
			i++
		case '\n':
			line++
		}
	}
	return line
}

var errNotData = errors.New("not a data: URI")

// decodeDataURI returns the payload of a data: URI (base64 or percent
// encoded).
func decodeDataURI(u string) ([]byte, error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return nil, errNotData
	}
	meta, payload, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, errors.New("data: URI without a comma")
	}
	if strings.HasSuffix(meta, ";base64") {
		payload = strings.TrimRight(payload, "=")
		b, err := base64.RawStdEncoding.DecodeString(payload)
		if err != nil {
			b, err = base64.RawURLEncoding.DecodeString(payload)
		}
		if err != nil {
			return nil, fmt.Errorf("data: URI: bad base64: %w", err)
		}
		return b, nil
	}
	s, err := url.PathUnescape(payload)
	if err != nil {
		return nil, fmt.Errorf("data: URI: %w", err)
	}
	return []byte(s), nil
}
