package org

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is the K-th of N shares of an organisation's repositories, K from
// 1 to N. The zero value (and 1/1) is everything.
type Shard struct{ K, N int }

// ParseShard reads "K/N" with 1 <= K <= N; "" is everything.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{1, 1}, nil
	}
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(strings.TrimSpace(ks))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case !ok || err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("shard %q: want K/N, e.g. 1/4", s)
	case n < 1 || n > 1<<20:
		return Shard{}, fmt.Errorf("shard %q: N must be between 1 and %d", s, 1<<20)
	case k < 1 || k > n:
		return Shard{}, fmt.Errorf("shard %q: K counts from 1 to N (%d); for a 0-based index I, pass I+1", s, n)
	}
	return Shard{k, n}, nil
}

func (s Shard) String() string {
	if s.N <= 1 {
		return "1/1"
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Has reports whether the repository named fullName falls in the shard:
// FNV-1a (64 bits) of the lower-cased full name, modulo N, equals K-1. It
// depends on the name only, so every machine splits alike, and a repository
// stays in its shard as the organisation grows.
func (s Shard) Has(fullName string) bool {
	if s.N <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(fullName)))
	return h.Sum64()%uint64(s.N) == uint64(s.K-1)
}
