package websource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/atomyx/atomyx-guard/scanner/bundle"
)

// Options bound a crawl. Zero fields take the defaults.
type Options struct {
	// AllowHosts are hosts (host or host:port) fetched beside the seeds'.
	AllowHosts []string
	// Depth is how many links (<a href>, frames) away from the seeds
	// pages are followed; 0 fetches the given pages and what they load.
	Depth int
	// MaxPages bounds the HTML pages fetched, MaxFiles all responses.
	MaxPages, MaxFiles int
	// MaxBytes bounds one response (decoded); larger ones are scanned up
	// to it. MaxTotalBytes bounds the crawl.
	MaxBytes, MaxTotalBytes int64
	// Timeout bounds one request, body included; MaxTime the crawl.
	Timeout, MaxTime time.Duration
	// Concurrency is the number of requests in flight.
	Concurrency int
	// MaxRedirects bounds a redirect chain.
	MaxRedirects int
	// UserAgent is sent with every request.
	UserAgent string
	// Client makes the requests; its CheckRedirect is not used (the
	// crawler follows redirects itself). A default client when nil, which
	// dials only addresses the policy allows (see AllowPrivate); a client
	// given here dials as it likes, and the policy then holds for URLs
	// that name an address literally.
	Client *http.Client
	// AllowPrivate lets the crawl connect to loopback, private,
	// link-local, shared (CGNAT), multicast and reserved addresses, which
	// it refuses by default (see refused); seeds given as an address
	// literal or as localhost are always allowed.
	AllowPrivate bool
	// Resolver looks host names up for the default client's dialer;
	// net.DefaultResolver when nil.
	Resolver Resolver
}

// Defaults.
const (
	DefaultMaxPages      = 50
	DefaultMaxFiles      = 1000
	DefaultMaxBytes      = 32 << 20
	DefaultMaxTotalBytes = 1 << 30
	DefaultTimeout       = 30 * time.Second
	DefaultMaxTime       = 10 * time.Minute
	DefaultConcurrency   = 4
	DefaultMaxRedirects  = 10
	DefaultUserAgent     = "atomyx-guard (secret scanner; +https://github.com/atomyx/atomyx-guard)"
)

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxPages, DefaultMaxPages)
	def(&o.MaxFiles, DefaultMaxFiles)
	def(&o.Concurrency, DefaultConcurrency)
	def(&o.MaxRedirects, DefaultMaxRedirects)
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxTime <= 0 {
		o.MaxTime = DefaultMaxTime
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	return o
}

// maxHeaderBytes bounds the response headers the default client reads
// (net/http's own default is 10 MB).
const maxHeaderBytes = 256 << 10

// defaultClient dials through g, so that every connection the crawl
// makes is to an address the policy allows.
func defaultClient(o Options, g *guard) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                  g.proxy,
		DialContext:            g.DialContext,
		MaxIdleConnsPerHost:    o.Concurrency,
		TLSHandshakeTimeout:    o.Timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		// We ask for encodings ourselves and decode them: the
		// transport's own gzip handling would hide brotli and deflate.
		DisableCompression: true,
	}}
}

// Crawler is a scanner.Source over a deployed site. Use New.
type Crawler struct {
	opt    Options
	seeds  []*url.URL
	hosts  map[string]bool
	client *http.Client
	guard  *guard
	// dialIP connects to an address the guard has checked.
	dialIP func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnSkip is told of every URL that could not be fetched or was cut
	// short. Called concurrently.
	OnSkip func(finding.Skip)

	mu      sync.Mutex
	seen    map[string]bool
	pages   int
	files   int
	dropped map[string]int // limit name -> URLs left out
	kinds   sync.Map       // final URL -> bundle.Kind
	maps    sync.Map       // URL -> *cached (source maps, fetched once)
	mapRefs sync.Map       // final URL -> SourceMap header
	total   atomic.Int64
	fetched atomic.Int64
}

// New checks the seeds (absolute http or https URLs) and prepares a crawl.
func New(seeds []string, opt Options) (*Crawler, error) {
	if len(seeds) == 0 {
		return nil, errors.New("no URL to scan")
	}
	opt = opt.withDefaults()
	c := &Crawler{opt: opt, hosts: map[string]bool{}, seen: map[string]bool{}, dropped: map[string]int{}}
	c.dialIP = (&net.Dialer{Timeout: opt.Timeout}).DialContext
	c.guard = &guard{allowAll: opt.AllowPrivate, exempt: map[string]bool{}, proxies: map[string]bool{}, proxyFrom: http.ProxyFromEnvironment, resolver: opt.Resolver,
		dial: func(ctx context.Context, network, addr string) (net.Conn, error) { return c.dialIP(ctx, network, addr) }}
	for _, s := range seeds {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("URL %s: %w", patterns.Scrub(s), err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("URL %s: want an absolute http or https URL", patterns.Scrub(s))
		}
		u.Fragment = ""
		if _, err := netip.ParseAddr(u.Hostname()); err == nil || strings.EqualFold(u.Hostname(), "localhost") {
			c.guard.exempt[strings.ToLower(u.Hostname())] = true
		}
		c.seeds = append(c.seeds, u)
		c.hosts[strings.ToLower(u.Host)] = true
	}
	for _, h := range opt.AllowHosts {
		c.hosts[strings.ToLower(strings.TrimSpace(h))] = true
	}
	client := opt.Client
	if client == nil {
		client = defaultClient(opt, c.guard)
	}
	cl := *client
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.client = &cl
	return c, nil
}

// Fetched is the number of responses read so far, TotalBytes their
// decoded bytes.
func (c *Crawler) Fetched() int64    { return c.fetched.Load() }
func (c *Crawler) TotalBytes() int64 { return c.total.Load() }

// Kind tells the bundle Expander what a fetched URL is, from its
// Content-Type. Use it as bundle.Expander.Kind.
func (c *Crawler) Kind(it scanner.Item) bundle.Kind {
	if k, ok := c.kinds.Load(it.Loc.URL); ok {
		return k.(bundle.Kind)
	}
	return bundle.Unknown
}

// MapRef returns the source map a response's SourceMap (or X-SourceMap)
// header names. Use it as bundle.Expander.MapRef.
func (c *Crawler) MapRef(it scanner.Item) string {
	if v, ok := c.mapRefs.Load(it.Loc.URL); ok {
		return v.(string)
	}
	return ""
}

func (c *Crawler) allowed(u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[strings.ToLower(u.Host)]
}

// allow adds a host to the crawl: where a seed redirects to is where the
// user meant (http://example.com to https://www.example.com).
func (c *Crawler) allow(u *url.URL) {
	c.mu.Lock()
	c.hosts[strings.ToLower(u.Host)] = true
	c.mu.Unlock()
}

func (c *Crawler) skip(where, reason string) {
	if c.OnSkip != nil {
		c.OnSkip(finding.Skip{Where: patterns.RedactRuns(where), Reason: patterns.RedactRuns(reason)})
	}
}

// task is one URL to fetch.
type task struct {
	u     *url.URL
	as    bundle.RefKind // what the referrer expects; 0 for seeds
	depth int
}

// Items crawls from the seeds and emits every response as an item with a
// "url" location. It returns emit's error, or ctx's; limits and failures
// of single URLs are Skips, not errors.
func (c *Crawler) Items(ctx context.Context, emit func(scanner.Item) error) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.opt.MaxTime)
	defer cancel()
	var (
		wg      sync.WaitGroup
		emitMu  sync.Mutex
		emitErr error
		sem     = make(chan struct{}, c.opt.Concurrency)
	)
	send := func(it scanner.Item) {
		emitMu.Lock()
		defer emitMu.Unlock()
		if emitErr != nil {
			return
		}
		if err := emit(it); err != nil {
			emitErr = err
			cancel()
		}
	}
	var enqueue func(t task)
	enqueue = func(t task) {
		if !c.admit(t) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				c.drop("time limit")
				return
			}
			defer func() { <-sem }()
			c.visit(ctx, t, enqueue, send)
		}()
	}
	for _, u := range c.seeds {
		enqueue(task{u: u})
	}
	wg.Wait()
	c.reportDropped()
	if emitErr != nil {
		return emitErr
	}
	if err := parent.Err(); err != nil {
		return err
	}
	return nil
}

// admit marks t's URL seen and counts it against the limits.
func (c *Crawler) admit(t task) bool {
	key := t.u.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[key] {
		return false
	}
	c.seen[key] = true
	switch {
	case c.files >= c.opt.MaxFiles:
		c.dropped["file limit"]++
		return false
	case t.as == bundle.RefPage && c.pages >= c.opt.MaxPages:
		c.dropped["page limit"]++
		return false
	}
	c.files++
	if t.as == bundle.RefPage || t.as == 0 {
		c.pages++
	}
	return true
}

// markSeen records a redirect target, reporting whether it is new.
func (c *Crawler) markSeen(u *url.URL) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[u.String()] {
		return false
	}
	c.seen[u.String()] = true
	return true
}

func (c *Crawler) drop(limit string) {
	c.mu.Lock()
	c.dropped[limit]++
	c.mu.Unlock()
}

func (c *Crawler) reportDropped() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for limit, n := range c.dropped {
		c.skip(c.seeds[0].String(), fmt.Sprintf("%s reached: %d more URLs not fetched", limit, n))
	}
	clear(c.dropped)
}

// visit fetches one URL, emits it and follows what it loads.
func (c *Crawler) visit(ctx context.Context, t task, enqueue func(task), send func(scanner.Item)) {
	if ctx.Err() != nil {
		c.drop("time limit")
		return
	}
	var r *response
	if t.as == bundle.RefMap {
		r = c.mapOnce(ctx, t.u)
	} else {
		r = c.fetch(ctx, t.u, t.as == 0)
	}
	if r.err != nil {
		switch {
		case ctx.Err() != nil:
			c.drop("time limit") // the crawl's, not this request's
		case !r.silent:
			c.skip(t.u.String(), r.err.Error())
		}
		return
	}
	if r.truncated != "" {
		c.skip(r.url.String(), r.truncated)
	}
	kind := kindOf(r, t.as)
	where := patterns.RedactRuns(r.url.String())
	c.kinds.Store(where, kind)
	mapRef := strings.TrimSpace(r.header.Get("SourceMap"))
	if mapRef == "" {
		mapRef = strings.TrimSpace(r.header.Get("X-SourceMap"))
	}
	if mapRef != "" {
		c.mapRefs.Store(where, mapRef) // before the item is out: its Expander asks
	}
	send(scanner.Item{
		Loc:  finding.Location{Source: finding.SourceURL, URL: where},
		Data: r.body, Size: int64(len(r.body)),
	})
	base := r.url
	next := func(ref string, as bundle.RefKind) {
		u, err := base.Parse(strings.TrimSpace(ref))
		if err != nil {
			return
		}
		u.Fragment = ""
		if !c.allowed(u) {
			return
		}
		d := t.depth
		if as == bundle.RefPage {
			if t.depth >= c.opt.Depth {
				return
			}
			d++
		}
		enqueue(task{u: u, as: as, depth: d})
	}
	if mapRef != "" {
		next(mapRef, bundle.RefMap)
	}
	for _, ref := range bundle.Refs(kind, r.body) {
		if ref.Kind == bundle.RefBase {
			if b, err := r.url.Parse(ref.URL); err == nil {
				base = b
			}
			continue
		}
		next(ref.URL, ref.Kind)
	}
}

// kindOf decides what a response is: by Content-Type, then by what the
// referrer expected, then by name and content.
func kindOf(r *response, as bundle.RefKind) bundle.Kind {
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	switch {
	case mt == "text/html" || mt == "application/xhtml+xml":
		return bundle.HTML
	case strings.Contains(mt, "javascript") || strings.Contains(mt, "ecmascript"):
		return bundle.JS
	case mt == "text/css":
		return bundle.CSS
	}
	if as == bundle.RefMap {
		return bundle.SourceMap
	}
	if k := bundle.KindOf(r.url.Path, r.body); k != bundle.Unknown {
		return k
	}
	if (as == 0 || as == bundle.RefPage) && bytes.HasPrefix(bytes.TrimLeft(r.body, " \t\r\n\ufeff"), []byte("<")) {
		return bundle.HTML // a page without a Content-Type or doctype
	}
	switch as {
	case bundle.RefScript:
		return bundle.JS
	case bundle.RefStyle:
		return bundle.CSS
	}
	return bundle.Unknown
}

// response is the outcome of fetching one URL.
type response struct {
	url       *url.URL // after redirects
	header    http.Header
	body      []byte
	truncated string // why the body is cut short, if it is
	err       error
	silent    bool // err already reported, or not worth a Skip
}

// cached is a source map fetched once for both the crawl and the bundle
// Expander's LoadMap.
type cached struct {
	once sync.Once
	r    *response
}

func (c *Crawler) mapOnce(ctx context.Context, u *url.URL) *response {
	v, _ := c.maps.LoadOrStore(u.String(), &cached{})
	e := v.(*cached)
	e.once.Do(func() { e.r = c.fetch(ctx, u, false) })
	return e.r
}

// LoadMap fetches a source map a bundle names, relative to the bundle's
// URL, on the crawl's hosts and within its limits; each map is fetched once
// whether the crawl or the Expander asks first. Use it as
// bundle.Expander.LoadMap.
func (c *Crawler) LoadMap(ctx context.Context, it scanner.Item, ref string) ([]byte, error) {
	base, err := url.Parse(it.Loc.URL)
	if err != nil || it.Loc.URL == "" {
		return nil, fs.ErrNotExist
	}
	u, err := base.Parse(ref)
	if err != nil || !c.allowed(u) {
		return nil, fs.ErrNotExist
	}
	u.Fragment = ""
	r := c.mapOnce(ctx, u)
	if r.err != nil {
		// The crawl reports the map's failure when it visits it.
		return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, r.err)
	}
	return r.body, nil
}

// fetch GETs u, following redirects on allowed hosts (any http or https
// host for a seed, which then joins the crawl), and reads the body
// decoded, within the limits.
func (c *Crawler) fetch(ctx context.Context, u *url.URL, seed bool) *response {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	chain := []string{u.String()}
	for {
		resp, err := c.get(ctx, u)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
				err = fmt.Errorf("timed out after %s", c.opt.Timeout)
			}
			return &response{err: err}
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
			resp.Body.Close()
			next, err := u.Parse(resp.Header.Get("Location"))
			if err != nil {
				return &response{err: fmt.Errorf("bad redirect: %w", err)}
			}
			next.Fragment = ""
			for _, s := range chain {
				if s == next.String() {
					return &response{err: fmt.Errorf("redirect loop: %s", strings.Join(append(chain, next.String()), " -> "))}
				}
			}
			chain = append(chain, next.String())
			if len(chain) > c.opt.MaxRedirects+1 {
				return &response{err: fmt.Errorf("more than %d redirects", c.opt.MaxRedirects)}
			}
			if seed && (next.Scheme == "http" || next.Scheme == "https") {
				c.allow(next)
			}
			if !c.allowed(next) {
				return &response{err: fmt.Errorf("redirect to %s not followed: host not allowed (--allow-host)", next.Redacted())}
			}
			if !c.markSeen(next) {
				return &response{err: errors.New("redirect to a URL already fetched"), silent: true}
			}
			u = next
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &response{err: fmt.Errorf("HTTP %s", resp.Status)}
		}
		r := &response{url: u, header: resp.Header}
		if resp.ContentLength > c.opt.MaxBytes && resp.Header.Get("Content-Encoding") == "" {
			r.truncated = fmt.Sprintf("response of %d bytes exceeds the %d-byte limit: only the first %d scanned",
				resp.ContentLength, c.opt.MaxBytes, c.opt.MaxBytes)
		}
		body, err := decode(resp.Body, resp.Header.Get("Content-Encoding"))
		if err != nil {
			return &response{err: err}
		}
		r.body, err = io.ReadAll(io.LimitReader(body, c.opt.MaxBytes+1))
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("timed out after %s reading the body (%d bytes read)", c.opt.Timeout, len(r.body))
			}
			return &response{err: fmt.Errorf("read: %w", err)}
		}
		if int64(len(r.body)) > c.opt.MaxBytes {
			r.body = r.body[:c.opt.MaxBytes]
			if r.truncated == "" {
				r.truncated = fmt.Sprintf("response exceeds the %d-byte limit: only the first %d scanned", c.opt.MaxBytes, c.opt.MaxBytes)
			}
		}
		c.fetched.Add(1)
		if t := c.total.Add(int64(len(r.body))); t > c.opt.MaxTotalBytes {
			c.drop("total byte limit")
			return &response{err: fmt.Errorf("total byte limit of %d reached", c.opt.MaxTotalBytes), silent: true}
		}
		return r
	}
}

func (c *Crawler) get(ctx context.Context, u *url.URL) (*http.Response, error) {
	// An address literal is checked before the request, whatever client
	// or proxy makes it; names are checked where they are dialled.
	if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		if err := c.guard.check(u.Hostname(), a); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.opt.UserAgent)
	req.Header.Set("Accept-Encoding", "gzip, br, deflate")
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the Skip's Where already
		}
		return nil, err
	}
	return resp, nil
}

// MaxCodings is the most content codings one response may stack
// ("gzip, br" is two). Each coding costs a decoder and its window: a
// response must not decide how many (10⁵ "deflate"s took 575 MB, 10⁶
// killed the runtime). Servers send one; browsers decode no deeper.
const MaxCodings = 3

// decode undoes a Content-Encoding list (applied in order, so undone in
// reverse). More than MaxCodings codings, identity aside, are refused
// before any decoder is made.
func decode(r io.Reader, encoding string) (io.Reader, error) {
	if encoding == "" {
		return r, nil
	}
	// Counted before splitting: the list may be the size of the header.
	if n := strings.Count(encoding, ",") + 1; n > 4*MaxCodings {
		return nil, fmt.Errorf("Content-Encoding lists %d codings: more than %d refused", n, MaxCodings)
	}
	codings := strings.Split(encoding, ",")
	codings = slices.DeleteFunc(codings, func(c string) bool {
		c = strings.TrimSpace(c)
		return c == "" || strings.EqualFold(c, "identity")
	})
	if len(codings) > MaxCodings {
		return nil, fmt.Errorf("Content-Encoding lists %d codings: more than %d refused", len(codings), MaxCodings)
	}
	for i := len(codings) - 1; i >= 0; i-- {
		switch ce := strings.ToLower(strings.TrimSpace(codings[i])); ce {
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(r)
			if err != nil {
				return nil, fmt.Errorf("Content-Encoding gzip: %w", err)
			}
			r = zr
		case "br":
			r = brotli.NewReader(r)
		case "deflate":
			// "deflate" is zlib-wrapped by the standard, raw by some servers.
			var head [2]byte
			n, _ := io.ReadFull(r, head[:])
			r = io.MultiReader(bytes.NewReader(head[:n]), r)
			if n == 2 && head[0]&0x0f == 8 && (uint(head[0])<<8|uint(head[1]))%31 == 0 {
				zr, err := zlib.NewReader(r)
				if err != nil {
					return nil, fmt.Errorf("Content-Encoding deflate: %w", err)
				}
				r = zr
			} else {
				r = flate.NewReader(r)
			}
		default:
			return nil, fmt.Errorf("unsupported Content-Encoding %q", ce)
		}
	}
	return r, nil
}
