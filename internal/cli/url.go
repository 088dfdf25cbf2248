package cli

import (
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
	"github.com/atomyx/atomyx-guard/scanner/bundle"
	"github.com/atomyx/atomyx-guard/scanner/websource"
)

// urlOptions scans deployed sites: what a browser downloads.
type urlOptions struct {
	scanOptions
	URLs []string
	web  websource.Options
}

func newURLCmd(sys *IO) *cobra.Command {
	o := &urlOptions{scanOptions: scanOptions{sys: sys}}
	cmd := &cobra.Command{
		Use:   "url URL...",
		Short: "Scan deployed sites: pages, scripts, chunks, styles and source maps",
		Long: `Scan what a browser downloads from each URL: the page, its scripts
(<script src>, module preloads, script preloads), the chunks they import
(import(), static imports, webpack chunk maps), stylesheets, and source maps
(SourceMap headers, sourceMappingURL comments, inline data: maps). A key
found through a source map or a webpack eval module is reported with its
original source path and line. JavaScript is read, never executed.

The crawl stays on the given URLs' hosts (--allow-host adds more) and is
bounded in pages, files, bytes, time and concurrency; whatever could not be
fetched is listed as skipped. It never connects to loopback, private,
link-local (cloud metadata), CGNAT, multicast or reserved addresses, checking
the address it actually dials, unless a URL given here names one literally
(http://127.0.0.1:8080/, http://localhost:3000/) or --allow-private-addresses
is set. A response may stack at most 3 Content-Encodings.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.URLs = args
			return o.run(cmd)
		},
	}
	o.addFlags(cmd.Flags())
	fs := cmd.Flags()
	fs.StringSliceVar(&o.web.AllowHosts, "allow-host", nil, "also fetch from `HOST` (host or host:port; repeatable)")
	fs.IntVar(&o.web.Depth, "depth", 0, "follow links this many pages deep (0: the given pages and what they load)")
	fs.IntVar(&o.web.MaxPages, "max-pages", websource.DefaultMaxPages, "fetch at most this many HTML pages")
	fs.IntVar(&o.web.MaxFiles, "max-files", websource.DefaultMaxFiles, "fetch at most this many responses")
	fs.Int64Var(&o.web.MaxBytes, "max-response-bytes", websource.DefaultMaxBytes, "scan at most this many bytes of one response")
	fs.Int64Var(&o.web.MaxTotalBytes, "max-total-bytes", websource.DefaultMaxTotalBytes, "stop fetching after this many bytes")
	fs.DurationVar(&o.web.Timeout, "timeout", websource.DefaultTimeout, "time limit of one request, body included")
	fs.DurationVar(&o.web.MaxTime, "max-time", websource.DefaultMaxTime, "time limit of the whole crawl")
	fs.IntVar(&o.web.Concurrency, "concurrency", websource.DefaultConcurrency, "requests in flight")
	fs.IntVar(&o.web.MaxRedirects, "max-redirects", websource.DefaultMaxRedirects, "longest redirect chain followed")
	fs.BoolVar(&o.web.AllowPrivate, "allow-private-addresses", false, "also connect to loopback, private, link-local and other internal addresses (refused by default, except URLs given here by address or as localhost)")
	return cmd
}

func (o *urlOptions) run(cmd *cobra.Command) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.web.Depth < 0 || o.web.MaxPages < 1 || o.web.MaxFiles < 1 || o.web.MaxBytes < 1 || o.web.MaxTotalBytes < 1 ||
		o.web.Timeout <= 0 || o.web.MaxTime <= 0 || o.web.Concurrency < 1 || o.web.MaxRedirects < 0 {
		return fmt.Errorf("crawl limits must be positive")
	}
	ctx := cmd.Context()
	root := o.sys.Getwd
	if root == "" {
		root = "."
	}
	cfg, err := o.configFor(root)
	if err != nil {
		return err
	}
	crawler, err := websource.New(o.URLs, o.web)
	if err != nil {
		return err
	}
	var (
		mu    sync.Mutex
		skips []finding.Skip
	)
	crawler.OnSkip = func(s finding.Skip) {
		mu.Lock()
		skips = append(skips, s)
		mu.Unlock()
	}
	run := o.newRun(crawlerBundles(crawler)).showProgress()
	start := time.Now()
	_, err = run.engine.Run(ctx, crawler, run.set)
	run.failed(ctx, err)
	if err == nil && crawler.Fetched() == 0 {
		// The report is written all the same: it lists why each URL
		// failed, and a CI job reading JSON gets JSON.
		run.stop = fmt.Errorf("nothing could be fetched from %d URL(s) in %s", len(o.URLs), time.Since(start).Round(time.Millisecond))
	}
	run.skipped = append(run.skipped, skips...)
	return run.finish(ctx, cfg, report.Stats{
		URLs:    crawler.Fetched(),
		Bytes:   crawler.TotalBytes(),
		Partial: len(skips) > 0,
	}, nil)
}

// crawlerBundles is the bundle expander of a crawl: source maps come from
// the site, and Content-Types say what each response is.
func crawlerBundles(c *websource.Crawler) *bundle.Expander {
	return &bundle.Expander{LoadMap: c.LoadMap, Kind: c.Kind, MapRef: c.MapRef}
}
