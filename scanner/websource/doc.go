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
//
// A site is untrusted: it must not be able to make the scanner reach the
// machine it runs on or its network, nor decide how much memory it uses.
// The default client resolves names itself and connects only to the
// addresses it checked, refusing loopback, private, link-local (cloud
// metadata), shared (CGNAT), multicast and reserved ones, so neither a
// redirect, a link nor a DNS answer that changes between lookups
// (rebinding) gets around the check; seeds given by address or as
// localhost are the user's choice and allowed, and Options.AllowPrivate
// lifts the policy. A response may stack at most MaxCodings
// Content-Encodings, its headers are read up to 256 KiB, and its decoded
// body up to Options.MaxBytes.
package websource
