package document

import "github.com/atomyx/atomyx-guard/scanner/decode"

// rtfText returns the text of an RTF document: control words and group
// braces dropped, \'hh and \uN written as the characters they stand for,
// \par and \line as line breaks, and the document's own line breaks
// (which writers put anywhere, even inside a word) removed. Destinations
// (font tables, metadata) are kept: their text may hold a key too.
func rtfText(data []byte) []byte {
	out := make([]byte, 0, len(data)/2)
	skip := 0 // fallback characters to drop after \uN
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch c {
		case '{', '}', '\r', '\n':
			continue
		case '\\':
		default:
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, c)
			continue
		}
		if i+1 >= len(data) {
			break
		}
		i++
		c = data[i]
		switch {
		case c == '\'':
			if i+2 < len(data) && decode.HexDigit(data[i+1]) >= 0 && decode.HexDigit(data[i+2]) >= 0 {
				if skip > 0 {
					skip--
				} else {
					out = append(out, byte(decode.HexDigit(data[i+1])<<4|decode.HexDigit(data[i+2])))
				}
				i += 2
			}
		case c == '\\' || c == '{' || c == '}':
			out = append(out, c)
		case c == '~':
			out = append(out, ' ')
		case c == '_':
			out = append(out, '-')
		case c == '\r' || c == '\n':
			out = append(out, '\n')
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			w := i
			for i < len(data) && ('a' <= data[i] && data[i] <= 'z' || 'A' <= data[i] && data[i] <= 'Z') && i-w < 32 {
				i++
			}
			word := string(data[w:i])
			n, neg, digits := 0, false, 0
			if i < len(data) && data[i] == '-' {
				neg = true
				i++
			}
			for i < len(data) && '0' <= data[i] && data[i] <= '9' && digits < 10 {
				n = n*10 + int(data[i]-'0')
				i++
				digits++
			}
			if neg {
				n = -n
			}
			// A space ends the control word and is part of it.
			if !(i < len(data) && data[i] == ' ') {
				i--
			}
			switch word {
			case "par", "line", "row", "sect", "page":
				out = append(out, '\n')
			case "tab", "cell":
				out = append(out, '\t')
			case "u":
				if n < 0 {
					n += 65536
				}
				out = appendRune(out, rune(n))
				skip = 1
			case "bin":
				i += max(0, min(n, len(data)-i-1)) // binary data: not text
			}
		}
	}
	return out
}

func appendRune(b []byte, r rune) []byte {
	if r < 0x80 {
		return append(b, byte(r))
	}
	return append(b, string(r)...)
}
