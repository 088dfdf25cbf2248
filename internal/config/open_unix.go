//go:build unix

package config

import "syscall"

// openFlags keep opening a FIFO from blocking until a writer comes.
const openFlags = syscall.O_NONBLOCK | syscall.O_NOCTTY
