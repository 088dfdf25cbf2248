//go:build !unix

package config

// openFlags: without FIFOs to fear, nothing to add.
const openFlags = 0
