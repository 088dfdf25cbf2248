// Package bundle looks inside what a browser downloads: minified JavaScript
// bundles, CSS, HTML pages and their source maps. Build tools inline
// process.env into bundles and copy original files into a map's
// sourcesContent, so a key that never sat in a deployed file by name still
// reaches every visitor. The Expander scans those places and says where a
// key came from: the original source path and line a source map (or a
// webpack eval module's sourceURL) names, beside the generated file's own
// position. Refs lists what a page or bundle loads, for a crawler.
//
// Nothing here executes JavaScript: bundles are read as text.
package bundle
