package websource

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/scanner"
)

// crawlSkips runs a crawl of seed and returns its skips.
func crawlSkips(t *testing.T, c *Crawler) []finding.Skip {
	t.Helper()
	var (
		mu    sync.Mutex
		skips []finding.Skip
	)
	c.OnSkip = func(s finding.Skip) { mu.Lock(); skips = append(skips, s); mu.Unlock() }
	if err := c.Items(context.Background(), func(scanner.Item) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return skips
}

func reasons(skips []finding.Skip) string {
	var b []string
	for _, s := range skips {
		b = append(b, s.Where+": "+s.Reason)
	}
	return strings.Join(b, " | ")
}

// A response that stacks Content-Encodings must not decide how much memory
// the crawl uses: 10⁵ "deflate" codings took 575 MB, 10⁶ killed the
// runtime. More than MaxCodings codings are refused before any decoder is
// made, and headers past maxHeaderBytes are not read at all.
func TestManyContentEncodings(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{MaxCodings + 1, "Content-Encoding lists 4 codings: more than 3 refused"},
		{20_000, "Content-Encoding lists 20000 codings"},
		{1_000_000, "headers exceeded"},
	} {
		n := tc.n
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", strings.Repeat("deflate, ", n-1)+"deflate")
			w.Write([]byte("x\x9c\x03\x00\x00\x00\x00\x01")) // an empty zlib stream
		}))
		c, err := New([]string{srv.URL + "/"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		skips := crawlSkips(t, c)
		runtime.ReadMemStats(&after)
		srv.Close()
		if got := reasons(skips); !strings.Contains(got, tc.want) {
			t.Errorf("%d codings: skips %q, want %q", n, got, tc.want)
		}
		if c.Fetched() != 0 {
			t.Errorf("%d codings: response accepted", n)
		}
		// Decoders for every coding cost hundreds of megabytes.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%d codings: %d MB allocated", n, alloc>>20)
		}
	}
}

// refusedDial records dials the policy should have stopped: any dial that
// reaches the real dialer for an address other than loopback fails the
// test, so no traffic leaves the machine.
func refusedDial(t *testing.T, c *Crawler) *[]string {
	var (
		mu   sync.Mutex
		seen []string
	)
	c.guard.proxyFrom = func(*http.Request) (*url.URL, error) { return nil, nil } // dial the test's addresses, not a proxy
	real := c.dialIP
	c.dialIP = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		seen = append(seen, addr)
		mu.Unlock()
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("dialled %s: the address policy let it through", addr)
			return nil, errors.New("test: refused")
		}
		return real(ctx, network, addr)
	}
	return &seen
}

// stubResolver answers every name with the same addresses.
type stubResolver map[string][]string

func (r stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range r[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// A seed that redirects to the cloud metadata address, or to any private,
// link-local or loopback address, is not followed: the dial is refused
// before any connection is made.
func TestRedirectToInternalAddressRefused(t *testing.T) {
	for _, target := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://10.1.2.3/", "http://192.168.0.1:8080/", "http://100.64.0.1/", "http://[fd00:ec2::254]/",
		"http://[::ffff:169.254.169.254]/", "http://0.0.0.0/", "http://224.0.0.1/",
		"http://metadata.test/", // a name resolving to the metadata address
	} {
		srv := httptest.NewServer(http.RedirectHandler(target, http.StatusFound))
		c, err := New([]string{srv.URL + "/"}, Options{Resolver: stubResolver{"metadata.test": {"169.254.169.254"}}})
		if err != nil {
			t.Fatal(err)
		}
		dials := refusedDial(t, c)
		skips := crawlSkips(t, c)
		srv.Close()
		if got := reasons(skips); !strings.Contains(got, "not allowed") || !strings.Contains(got, "--allow-private-addresses") {
			t.Errorf("redirect to %s: skips %q, want the address refused", target, got)
		}
		if c.Fetched() != 0 {
			t.Errorf("redirect to %s: followed", target)
		}
		for _, d := range *dials {
			if !strings.HasPrefix(d, "127.0.0.1:") {
				t.Errorf("redirect to %s: dialled %s", target, d)
			}
		}
	}
}

// A name is resolved by the crawler and the address it dials is the one
// checked, so a name that resolves to loopback (DNS rebinding) is refused
// even when the seed's own check passed; --allow-private-addresses lets it
// through.
func TestNameResolvingToLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`var k=1;`))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	seed := "http://site.test:" + u.Port() + "/app.js"
	res := stubResolver{"site.test": {"127.0.0.1"}}

	c, err := New([]string{seed}, Options{Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	dials := refusedDial(t, c)
	skips := crawlSkips(t, c)
	if got := reasons(skips); !strings.Contains(got, "loopback") || c.Fetched() != 0 || len(*dials) != 0 {
		t.Errorf("name resolving to loopback: skips %q, fetched %d, dials %q", got, c.Fetched(), *dials)
	}

	c, err = New([]string{seed}, Options{Resolver: res, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	dials = refusedDial(t, c)
	var items int
	c.OnSkip = func(s finding.Skip) { t.Errorf("with AllowPrivate: skip %+v", s) }
	if err := c.Items(context.Background(), func(it scanner.Item) error { items++; return nil }); err != nil {
		t.Fatal(err)
	}
	if items != 1 || len(*dials) != 1 || !strings.HasPrefix((*dials)[0], "127.0.0.1:") {
		t.Errorf("with AllowPrivate: %d items, dials %q; want the name's loopback address dialled", items, *dials)
	}
}

// A seed given as a loopback address literal (or localhost) is the user's
// explicit choice and is fetched; that is how local development and the
// tests work. A link to another loopback port from a public seed is not.
func TestAddressPolicy(t *testing.T) {
	tests := []struct {
		addr  string
		ok    bool
		class string
	}{
		{"93.184.215.14", true, ""},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", true, ""},
		{"127.0.0.1", false, "loopback"},
		{"::1", false, "loopback"},
		{"10.0.0.1", false, "private"},
		{"172.16.5.4", false, "private"},
		{"192.168.1.1", false, "private"},
		{"fc00::1", false, "private"},
		{"169.254.169.254", false, "link-local"},
		{"fe80::1", false, "link-local"},
		{"100.64.0.1", false, "shared (CGNAT)"},
		{"100.100.100.200", false, "shared (CGNAT)"},
		{"0.0.0.0", false, "unspecified"},
		{"::", false, "unspecified"},
		{"0.1.2.3", false, "reserved"},
		{"224.0.0.1", false, "multicast"},
		{"ff02::1", false, "multicast"},
		{"255.255.255.255", false, "reserved"},
		{"::ffff:10.0.0.1", false, "private"},
		{"64:ff9b::a9fe:a9fe", false, "link-local"}, // NAT64 of 169.254.169.254
		{"2002:a9fe:a9fe::1", false, "link-local"},  // 6to4 of 169.254.169.254
	}
	for _, tt := range tests {
		class := refused(netip.MustParseAddr(tt.addr))
		if (class == "") != tt.ok || class != tt.class {
			t.Errorf("refused(%s) = %q, want %q", tt.addr, class, tt.class)
		}
	}
}

// FuzzDecodeContentEncoding: whatever the Content-Encoding header and the
// body, decode neither panics nor stacks more than MaxCodings decoders,
// and reading its output is bounded by the caller's limit.
func FuzzDecodeContentEncoding(f *testing.F) {
	f.Add("gzip", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add("deflate, deflate, deflate, deflate", []byte("x\x9c\x03\x00\x00\x00\x00\x01"))
	f.Add("br,identity, ,gzip", []byte{0x3b})
	f.Add(strings.Repeat("deflate,", 100), []byte{})
	f.Fuzz(func(t *testing.T, enc string, body []byte) {
		r, err := decode(bytes.NewReader(body), enc)
		n := 0
		for _, c := range strings.Split(enc, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				n++
			}
		}
		if n > MaxCodings && err == nil {
			t.Fatalf("%d codings accepted", n)
		}
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	})
}
