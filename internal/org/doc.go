// Package org scans every repository of a GitHub organisation, night after
// night, at a cost that follows what changed rather than the size of the
// organisation.
//
// The repositories are listed through the GitHub API (go-github), filtered
// (forks, archived, name globs) and, for runs spread over machines, split
// into deterministic shards by a hash of their full name. Each one is
// mirrored as a bare repository in a cache directory (every ref: branches,
// tags, pull refs), fetched by the git binary, hardened (gitfetch.go), or
// by go-git where there is none, and scanned with the git source. A bbolt
// database beside the mirrors remembers, per repository, the ref tips
// already scanned and the findings seen so far, so that the next run scans
// only commits reachable from none of those tips, skips unchanged
// repositories altogether, and still reports every key known.
//
// A repository that cannot be fetched or scanned is reported as a skip and
// the others go on.
package org
