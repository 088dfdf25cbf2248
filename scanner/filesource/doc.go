// Package filesource yields files for the scanner: the directories and
// files given on the command line (`atomyx-guard dir`), and standard input
// (`atomyx-guard stdin`). A checkout, a build output or an unpacked
// artifact holds keys that git never saw: ignored files, generated config,
// vendored bundles. So nothing is skipped for being gitignored; only .git
// directories are, since the git command scans history properly.
//
// The walk is loop-safe and never blocks: symlinks to directories are not
// followed unless asked (and then each directory is entered once, by device
// and inode), special files (FIFOs, devices, sockets) are reported as Skips
// without being opened, and files are opened only when a worker scans them.
package filesource
