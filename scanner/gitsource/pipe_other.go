//go:build !linux

package gitsource

import "os"

func growPipe(*os.File) {}
