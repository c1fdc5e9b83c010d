//go:build linux

package scoring

import "syscall"

// maxRSS returns the peak resident set size of the process in bytes.
func maxRSS() (uint64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return uint64(ru.Maxrss) * 1024, true // kilobytes on Linux
}
