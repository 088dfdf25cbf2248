package fill

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type stuck struct{}

func (stuck) Read([]byte) (int, error) { return 0, nil }

func TestRead(t *testing.T) {
	truncated := errors.Join(io.ErrUnexpectedEOF) // a decompressor's own
	for _, c := range []struct {
		name    string
		r       io.Reader
		size    int
		want    string
		wantErr error
	}{
		{"full", strings.NewReader("abcdef"), 4, "abcd", nil},
		{"one byte a read", iotest.OneByteReader(strings.NewReader("abcdef")), 6, "abcdef", nil},
		{"clean end, short", strings.NewReader("ab"), 4, "ab", io.EOF},
		{"end with the data", iotest.DataErrReader(strings.NewReader("ab")), 4, "ab", io.EOF},
		{"the stream's own unexpected EOF", io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(truncated)), 4, "ab", io.ErrUnexpectedEOF},
		{"stuck", stuck{}, 4, "", io.ErrNoProgress},
		{"empty buffer", stuck{}, 0, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			buf := make([]byte, c.size)
			n, err := Read(c.r, buf)
			if string(buf[:n]) != c.want || !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Errorf("Read = %q, %v; want %q, %v", buf[:n], err, c.want, c.wantErr)
			}
		})
	}
}
