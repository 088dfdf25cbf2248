package org

import (
	"net/url"
	"testing"
)

// FuzzCheckCloneURL: clone URLs come from the API; whatever passes is
// https, or http to loopback, and carries no credentials.
func FuzzCheckCloneURL(f *testing.F) {
	for _, s := range []string{
		"https://github.com/acme/api.git", "http://127.0.0.1:1/a.git", "http://[::1]/a",
		"http://localhost./a", "http://127.1/a", "https://u:p@h/a", "ssh://git@h/a", "http://0x7f000001/a",
		"HTTP://LOCALHOST/a", "http://[::ffff:127.0.0.1]/a", "http://127.0.0.1@evil.example/a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := checkCloneURL(raw)
		if err != nil {
			return
		}
		again, perr := url.Parse(raw)
		if perr != nil || again.User != nil || again.Host == "" {
			t.Fatalf("%q accepted: %v", raw, perr)
		}
		switch again.Scheme {
		case "https":
		case "http":
			if !isLoopback(again.Hostname()) {
				t.Fatalf("%q accepted: plain http to %q", raw, again.Hostname())
			}
		default:
			t.Fatalf("%q accepted with scheme %q", raw, again.Scheme)
		}
		if u.String() != again.String() {
			t.Fatalf("%q: returned %q", raw, u)
		}
	})
}

// FuzzCheckName: names from the API become paths in the cache.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"acme/api", "acme/..", "acme/a/b", "ACME/x.y", "acme/.git", "acme/a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, full string) {
		if checkName("acme", full) != nil {
			return
		}
		for i := 0; i < len(full); i++ {
			c := full[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/') {
				t.Fatalf("%q accepted with byte %q", full, c)
			}
		}
		if len(full) < 6 || full[5] == '.' {
			t.Fatalf("%q accepted", full)
		}
	})
}
