// Package websource scans a deployed site the way a browser would load it:
// a page, the scripts and styles it references, the chunks those import
// (dynamic import(), static imports, webpack chunk maps) and their source
// maps (SourceMap headers and sourceMappingURL comments). A key that
// reaches client-side JavaScript is public, whatever the repository says;
// this is where to prove it.
//
// The crawler reads text and never executes JavaScript. It stays on the
// seeds' hosts unless told otherwise, bounds pages, files, bytes, time and
// concurrency, decodes gzip, brotli and deflate itself, and turns every
// failure (timeouts, redirect loops, oversized or malformed responses,
// 404s) into a Skip while the crawl goes on.
package websource
