//go:build !linux

package scoring

// maxRSS is not measured on this platform.
func maxRSS() (uint64, bool) { return 0, false }
