package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/atomyx/atomyx-guard/scanner"
)

// walkTar emits every regular file of a tar stream as it goes: members are
// streams, never held in memory. Links, devices and directories have no
// content of their own and are passed over; a symlink is never followed.
func walkTar(ctx context.Context, it scanner.Item, r io.Reader, emit func(scanner.Item) error) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) {
			err = nil // a name is only a label here
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		switch h.Typeflag {
		case tar.TypeReg, '\x00', tar.TypeGNUSparse, tar.TypeCont:
		default:
			continue
		}
		in := scanner.Item{
			Loc:  scanner.InnerLocation(it.Loc, h.Name),
			Size: h.Size,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(tr), nil },
		}
		if err := emit(in); err != nil {
			return err
		}
	}
}
