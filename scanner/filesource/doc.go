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
//
// The scanner must never read its own secrets: symlinks out of the scanned
// directory are not followed unless asked, paths under /proc, /sys and
// /dev and files on kernel file systems (proc, sysfs... wherever mounted,
// checked on the open file) are never read, a linked file must still be
// the one checked when it is opened, a listed file that has become a
// symlink by the time it is opened is refused (on Linux, where files are
// opened relative to their directory), and a walk that follows symlinks
// is bounded in bytes and time, saying where it stopped.
package filesource
