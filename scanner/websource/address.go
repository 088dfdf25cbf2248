package websource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
)

// Resolver turns a host name into addresses. *net.Resolver implements it;
// tests give a stub, so that no name is looked up for real.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrAddressNotAllowed is the error of a dial the address policy refused.
var ErrAddressNotAllowed = errors.New("address not allowed")

// blocked are the IPv4 ranges refused beside what netip classifies:
// "this network", shared address space (carrier-grade NAT, where some
// clouds put their metadata service), IETF assignments, benchmarking,
// the reserved class E and broadcast.
var blocked = []struct {
	p     netip.Prefix
	class string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "reserved"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	nat64L  = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToF  = netip.MustParsePrefix("2002::/16")
	siteLoc = netip.MustParsePrefix("fec0::/10")
)

// refused returns why the crawler must not connect to a, or "" when it may:
// a site on the internet must not be able to make the scanner reach the
// machine it runs on, its network or a cloud metadata service
// (169.254.169.254, fd00:ec2::254, 100.100.100.200) by a redirect, a link
// or a DNS answer. IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4)
// are judged as the IPv4 address they reach.
func refused(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		switch {
		case nat64.Contains(a), nat64L.Contains(a):
			b := a.As16()
			return refused(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToF.Contains(a):
			b := a.As16()
			return refused(netip.AddrFrom4([4]byte(b[2:6])))
		case siteLoc.Contains(a):
			return "private"
		}
	}
	switch {
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	if a.Is4() {
		for _, b := range blocked {
			if b.p.Contains(a) {
				return b.class
			}
		}
		if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return "reserved"
		}
	}
	return ""
}

// guard is the crawler's dialer: it resolves the host itself, checks every
// address it would connect to, and dials the address it checked, so that a
// second DNS answer (rebinding) cannot swap in another one between check
// and connect.
type guard struct {
	allowAll bool
	// exempt are the hosts the user named as seeds by address (or
	// localhost): scanning http://127.0.0.1:8080/ is an explicit choice.
	exempt   map[string]bool
	resolver Resolver
	mu       sync.Mutex
	proxies  map[string]bool // proxy hosts the environment named
	// proxyFrom names the proxy of a request: http.ProxyFromEnvironment
	// unless a test says none.
	proxyFrom func(*http.Request) (*url.URL, error)
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
}

// check returns nil when host (a name or an address literal) may be
// connected to at a.
func (g *guard) check(host string, a netip.Addr) error {
	h := strings.ToLower(host)
	g.mu.Lock()
	proxy := g.proxies[h]
	g.mu.Unlock()
	if g.allowAll || g.exempt[h] || proxy {
		return nil
	}
	if class := refused(a); class != "" {
		what := a.String()
		if !strings.EqualFold(host, what) {
			what = host + " (" + what + ")"
		}
		return fmt.Errorf("%w: %s is a %s address; --allow-private-addresses to scan it", ErrAddressNotAllowed, what, class)
	}
	return nil
}

// DialContext implements http.Transport.DialContext.
func (g *guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = g.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
	}
	var firstErr error
	for _, a := range addrs {
		if err := g.check(host, a); err != nil {
			// One refused address refuses the name: a name that answers
			// with a public and a private address is rebinding bait.
			return nil, err
		}
	}
	for _, a := range addrs {
		c, err := g.dial(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%s: no address", host)
	}
	return nil, firstErr
}

// proxy is the default client's Proxy: the one the environment names
// (HTTPS_PROXY...), which the user chose, so the guard lets the crawl dial
// it wherever it is. Through a proxy the proxy resolves names: the policy
// then holds for address literals only (checked before each request).
func (g *guard) proxy(req *http.Request) (*url.URL, error) {
	u, err := g.proxyFrom(req)
	if u != nil {
		g.mu.Lock()
		g.proxies[strings.ToLower(u.Hostname())] = true
		g.mu.Unlock()
	}
	return u, err
}
