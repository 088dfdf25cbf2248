//go:build !unix

package filesource

import "io/fs"

// fileID is unavailable here: following symlinked directories is then
// bounded by maxDepth alone.
type fileID struct{ dev uint64 }

func idOf(fs.FileInfo) (fileID, bool) { return fileID{}, false }
