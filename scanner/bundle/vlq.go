package bundle

import (
	"errors"
	"fmt"
)

// vlqState is the running state of a mappings decoder: the fields are
// relative to the previous segment, genCol to the previous one on the line.
type vlqState struct {
	off                  int // offset in the mappings string
	genCol               int
	src, line, col, name int32
}

var b64 = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

var errVLQ = errors.New("bad VLQ in mappings")

// vlq decodes one Base64 VLQ value at s[i:], returning it and the next
// offset. Values are bounded to 32 bits.
func vlq(s string, i int) (int32, int, error) {
	var (
		v     uint64
		shift uint
	)
	for {
		if i >= len(s) {
			return 0, i, fmt.Errorf("%w: truncated value", errVLQ)
		}
		d := b64[s[i]]
		if d < 0 {
			return 0, i, fmt.Errorf("%w: character %q at %d", errVLQ, s[i], i)
		}
		i++
		v |= uint64(d&31) << shift
		if v > 1<<32 {
			return 0, i, fmt.Errorf("%w: value overflows at %d", errVLQ, i)
		}
		if d&32 == 0 {
			break
		}
		shift += 5
		if shift > 35 {
			return 0, i, fmt.Errorf("%w: value too long at %d", errVLQ, i)
		}
	}
	n := int64(v >> 1)
	if v&1 != 0 {
		n = -n
	}
	return int32(n), i, nil
}

// decodeLine decodes the segments of one generated line starting at st,
// calling fn (when not nil) for each, with the absolute state after it,
// until fn returns false or the line ends. On return st is the state at the
// next line. nsrc, when not negative, bounds source indices.
func decodeLine(s string, st *vlqState, nsrc int, fn func(seg vlqState, hasSource bool) bool) error {
	st.genCol = 0
	i := st.off
	for i < len(s) && s[i] != ';' {
		if s[i] == ',' {
			i++
			continue
		}
		var (
			f   [5]int32
			n   int
			err error
		)
		for n < 5 && i < len(s) && s[i] != ',' && s[i] != ';' {
			f[n], i, err = vlq(s, i)
			if err != nil {
				return err
			}
			n++
		}
		if n != 1 && n != 4 && n != 5 {
			return fmt.Errorf("%w: segment of %d fields before %d", errVLQ, n, i)
		}
		if i < len(s) && s[i] != ',' && s[i] != ';' {
			return fmt.Errorf("%w: segment longer than 5 fields at %d", errVLQ, i)
		}
		st.genCol += int(f[0])
		if st.genCol < 0 {
			return fmt.Errorf("%w: negative column at %d", errVLQ, i)
		}
		if n >= 4 {
			st.src += f[1]
			st.line += f[2]
			st.col += f[3]
			if st.src < 0 || st.line < 0 || st.col < 0 {
				return fmt.Errorf("%w: negative source position at %d", errVLQ, i)
			}
			if nsrc >= 0 && int(st.src) >= nsrc {
				return fmt.Errorf("%w: source index beyond the %d sources", errVLQ, nsrc)
			}
		}
		if n == 5 {
			st.name += f[4]
		}
		if fn != nil && !fn(*st, n >= 4) {
			fn = nil // keep decoding to the end of the line for st
		}
	}
	if i < len(s) {
		i++ // the ';'
	}
	st.off = i
	return nil
}

// scanMappings validates a whole mappings string and returns the decoder
// state at the start of each generated line. nsrc bounds source indices.
func scanMappings(s string, nsrc int) ([]vlqState, error) {
	lines := make([]vlqState, 0, 1+countByte(s, ';'))
	var st vlqState
	for {
		lines = append(lines, st)
		if err := decodeLine(s, &st, nsrc, nil); err != nil {
			return nil, err
		}
		if st.off >= len(s) {
			if len(s) > 0 && s[len(s)-1] == ';' {
				lines = append(lines, st)
			}
			return lines, nil
		}
	}
}

func countByte(s string, c byte) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
		}
	}
	return n
}
