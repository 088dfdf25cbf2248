//go:build !linux

package filesource

import "os"

// Elsewhere the path rule (kernelPath) is the only check.
func kernelFSAt(string) (string, bool) { return "", false }

func kernelFSOf(*os.File) (string, bool) { return "", false }
