package procstat

import (
	"runtime"
	"testing"
)

func TestRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	rss, peak := RSS(), PeakRSS()
	if rss <= 0 || peak < rss {
		t.Errorf("RSS %d, peak %d: want 0 < RSS <= peak", rss, peak)
	}
	if field("NoSuchField:") != 0 {
		t.Error("a missing field reads as non-zero")
	}
}

// The anonymous and file-mapped parts are parts of RSS (shared memory is the third, about 0
// here), and both are present: the heap, and the binary's own mapped text.
func TestRSSParts(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	anon, file, rss := RSSAnon(), RSSFile(), RSS()
	if anon <= 0 || file <= 0 || anon+file > rss+1<<20 {
		t.Errorf("RssAnon %d + RssFile %d against VmRSS %d", anon, file, rss)
	}
}
