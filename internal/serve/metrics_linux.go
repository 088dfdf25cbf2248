package serve

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// processFamilies are the process's metrics read from /proc, named as
// client_golang's process collector names them; those that cannot be
// read are left out.
func processFamilies() []family {
	var fams []family
	if stat, err := os.ReadFile("/proc/self/stat"); err == nil {
		// Fields after the command's closing parenthesis, from field 3
		// (state): utime 14, stime 15, starttime 22, vsize 23, rss 24.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		field := func(n int) float64 {
			if n-3 >= len(f) {
				return 0
			}
			v, _ := strconv.ParseFloat(f[n-3], 64)
			return v
		}
		const userHZ = 100 // clock ticks per second, as procfs assumes
		fams = append(fams,
			counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", (field(14)+field(15))/userHZ),
			gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", field(23)),
			gauge("process_resident_memory_bytes", "Resident memory size in bytes.", field(24)*float64(os.Getpagesize())))
		if boot := bootTime(); boot > 0 {
			fams = append(fams, gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", boot+field(22)/userHZ))
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		fams = append(fams, gauge("process_open_fds", "Number of open file descriptors.", float64(len(fds))))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		fams = append(fams, gauge("process_max_fds", "Maximum number of open file descriptors.", float64(lim.Cur)))
	}
	return fams
}

// bootTime is the system's boot time in seconds since the epoch (btime of
// /proc/stat), 0 if unknown.
func bootTime() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			t, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return t
		}
	}
	return 0
}
