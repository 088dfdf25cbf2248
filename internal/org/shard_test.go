package org

import (
	"fmt"
	"strings"
	"testing"
)

func TestShardsPartition(t *testing.T) {
	names := make([]string, 500)
	for i := range names {
		names[i] = fmt.Sprintf("acme/repo-%d", i)
	}
	for n := 1; n <= 5; n++ {
		count := make([]int, n+1)
		for _, name := range names {
			in := 0
			for k := 1; k <= n; k++ {
				s := Shard{k, n}
				if s.Has(name) {
					in++
					count[k]++
				}
				if again := s.Has(name); again != s.Has(name) || again != s.Has(strings.ToUpper(name)) {
					t.Fatalf("%s: shard %v not deterministic", name, s)
				}
			}
			if in != 1 {
				t.Fatalf("N=%d: %s in %d shards", n, name, in)
			}
		}
		for k := 1; k <= n; k++ {
			// A fair hash: no shard gets less than half its share.
			if count[k] < len(names)/n/2 {
				t.Errorf("N=%d: shard %d has %d of %d", n, k, count[k], len(names))
			}
		}
	}
	// The assignment is part of the contract (shards of one org split
	// alike on every machine and version): pin a few.
	for name, want := range map[string]int{"acme/api": 1, "acme/web": 3, "atomyx/atomyx-guard": 3} {
		got := 0
		for k := 1; k <= 4; k++ {
			if (Shard{k, 4}).Has(name) {
				got = k
			}
		}
		if got != want {
			t.Errorf("%s in shard %d/4, want %d", name, got, want)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		err  string
	}{
		{"", Shard{1, 1}, ""},
		{"1/1", Shard{1, 1}, ""},
		{"3/4", Shard{3, 4}, ""},
		{" 2 / 5 ", Shard{2, 5}, ""},
		{"0/4", Shard{}, "K counts from 1"},
		{"5/4", Shard{}, "K counts from 1"},
		{"1/0", Shard{}, "N must be"},
		{"-1/4", Shard{}, "K counts from 1"},
		{"1", Shard{}, "want K/N"},
		{"a/b", Shard{}, "want K/N"},
		{"1/2/3", Shard{}, "want K/N"},
		{"1/99999999", Shard{}, "N must be"},
	} {
		got, err := ParseShard(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		}
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/4", "0/0", "4/4", "x", "1/", "/1", "9999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err != nil {
			return
		}
		if sh.K < 1 || sh.K > sh.N {
			t.Fatalf("%q parsed to %v", s, sh)
		}
		again, err := ParseShard(sh.String())
		if err != nil || again != sh {
			t.Fatalf("%q → %v → %q → %v, %v", s, sh, sh.String(), again, err)
		}
	})
}
