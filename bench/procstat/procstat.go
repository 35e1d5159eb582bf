// Package procstat reads the benchmarks' own memory figures from /proc/self/status (Linux; 0
// elsewhere or when a field is missing).
package procstat

import (
	"os"
	"strconv"
	"strings"
)

// RSS is the process's resident memory now, in bytes (VmRSS).
func RSS() int64 { return field("VmRSS:") }

// RSSAnon is the anonymous part of RSS (heap, stacks), in bytes (RssAnon): what the process
// holds that the kernel cannot drop, unlike RSSFile's pages of mapped files.
func RSSAnon() int64 { return field("RssAnon:") }

// RSSFile is the part of RSS that maps files (RssFile): page cache the kernel can reclaim and
// read again, such as the index's mapped vector files.
func RSSFile() int64 { return field("RssFile:") }

// PeakRSS is the process's peak resident memory so far, in bytes (VmHWM).
func PeakRSS() int64 { return field("VmHWM:") }

// field reads one "Name: N kB" line of /proc/self/status, in bytes.
func field(name string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, name) {
			f := strings.Fields(line)
			if len(f) < 2 {
				return 0
			}
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
