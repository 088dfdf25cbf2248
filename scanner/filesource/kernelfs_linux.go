package filesource

import (
	"os"
	"syscall"
)

// kernelMagic names the file systems whose files are the kernel's view of
// processes and devices, by statfs magic (linux/magic.h). Their "files"
// hold live process state (environ, cmdline, mem), never content anyone
// committed, and reading them can leak the scanner's own secrets or block.
var kernelMagic = map[int64]string{
	0x9fa0:     "proc",
	0x62656572: "sysfs",
	0x1cd1:     "devpts",
	0x64626720: "debugfs",
	0x74726163: "tracefs",
	0x73636673: "securityfs",
	0x27e0eb:   "cgroup",
	0x63677270: "cgroup2",
	0xcafe4a11: "bpf",
	0xde5e81e4: "efivarfs",
	0x6165676c: "pstore",
	0x62656570: "configfs",
}

// kernelFSAt reports whether the file system holding path is one of them.
func kernelFSAt(path string) (string, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "", false
	}
	name, ok := kernelMagic[int64(st.Type)] //nolint:unconvert // width differs by platform
	return name, ok
}

// kernelFSOf is kernelFSAt for an open file: the check that holds even if
// a path was swapped after it was looked at.
func kernelFSOf(f *os.File) (string, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return "", false
	}
	var (
		name string
		ok   bool
	)
	if err := rc.Control(func(fd uintptr) { name, ok = kernelFSOfFd(int(fd)) }); err != nil {
		return "", false
	}
	return name, ok
}

// kernelFSOfFd is kernelFSOf for a file descriptor.
func kernelFSOfFd(fd int) (string, bool) {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(fd, &st); err != nil {
		return "", false
	}
	name, ok := kernelMagic[int64(st.Type)] //nolint:unconvert // width differs by platform
	return name, ok
}
