// Package cli is the atomyx-guard command line: flags, wiring and exit
// codes, nothing more. Each command is an options struct whose run method
// does the work, so that tests drive commands without a process.
//
// Exit codes:
//
//	0  the scan ran and found nothing (or nothing that --fail-on counts)
//	1  leaks found (--exit-code N overrides the number)
//	2  the job could not be done: bad flags, not a repository, nothing
//	   readable, or verification/response asked for and not completed;
//	   also after SIGTERM
//	130 interrupted by SIGINT
//
// A scan that has a report writes it whatever the exit code: stopped by a
// signal or a failure half-way, it writes what it found, marked partial.
package cli
