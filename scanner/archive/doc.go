// Package archive looks inside archives and compressed files for the
// scanner: zip and the formats built on it (jar, war, whl, apk, ipa, vsix,
// nupkg, docx, xlsx...), tar, gzip (tgz: npm packages), bzip2, zstd and
// brotli-compressed assets. Keys ship inside build artifacts as often as in
// source, and an artifact is only ever an archive of text.
//
// It implements scanner.Expander and never touches the disk but for a
// temporary copy of a large zip that came as a stream: member names are
// labels, never paths to write to. The Engine bounds depth, size, ratio and
// time; this package handles hostile structure (truncated, encrypted,
// symlinks, absurd headers) by reporting a Skip and going on.
package archive
