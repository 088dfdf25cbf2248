// Package scanner is the concurrent engine between sources and findings:
// sources yield Items (a git blob, a file, a commit message), the Engine
// hands them to workers, and the Detector finds keys in each, streaming, in
// bounded memory, with line numbers, reporting Hits that carry fingerprints
// and redacted forms only.
//
// Sources live in sub-packages (scanner/gitsource, scanner/filesource, ...)
// and depend on this package, never the other way round.
package scanner
