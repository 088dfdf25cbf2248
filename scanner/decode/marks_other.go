//go:build !amd64

package decode

var hasVector = false

func markVector(b []byte, from, n int, m *marks) { panic("no vector marking here") }

func prefetch(b []byte, i int) {}
