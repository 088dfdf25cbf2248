package archive_test

import (
	"os/exec"
	"path/filepath"
)

func filepathGlob(dir string) ([]string, error) { return filepath.Glob(filepath.Join(dir, "*")) }

func lookBzip2() (string, error) { return exec.LookPath("bzip2") }
