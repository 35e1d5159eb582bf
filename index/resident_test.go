package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob/local"
)

// TestResidentMemory measures what an index left by `facematch bench index --dir D` costs
// resident once opened: anonymous memory (heap: ids, graph, codes) and mapped file pages, per
// face, after Open and after searches; and the time Open takes. It runs only when
// FACEMATCH_RESIDENT_DIR names D/index (and FACEMATCH_RESIDENT_QUANTIZED=1 walks codes).
//
//	FACEMATCH_RESIDENT_DIR=/tmp/bi/index go test -run TestResidentMemory -v ./index/
func TestResidentMemory(t *testing.T) {
	dir := os.Getenv("FACEMATCH_RESIDENT_DIR")
	if dir == "" {
		t.Skip("FACEMATCH_RESIDENT_DIR is not set")
	}
	ctx := context.Background()
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := latestManifest(ctx, store, "bench")
	if err != nil || m == nil {
		t.Fatalf("no index in %s: %v", dir, err)
	}
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "bench", Model: m.Model, Dim: m.Dim,
		Graph: HNSWGraph(graph.Config{}), Quantized: os.Getenv("FACEMATCH_RESIDENT_QUANTIZED") == "1", MergeFactor: -1, CompactAfter: -1}
	runtime.GC()
	debug.FreeOSMemory()
	anon0, file0 := rssParts(t)
	start := time.Now()
	ix, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Since(start)
	defer ix.Close()
	n := ix.Len()
	runtime.GC()
	debug.FreeOSMemory()
	anon1, file1 := rssParts(t)
	r := rand.New(rand.NewPCG(1, 2))
	const queries = 2000
	for range queries {
		if _, err := ix.Search(ctx, m.Model, unitVector(r, m.Dim), 10, Filter{Ef: 256}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	anon2, file2 := rssParts(t)
	per := func(b int64) string { return fmt.Sprintf("%.0f B/face", float64(b)/float64(n)) }
	t.Logf("quantized %v, %d faces in %d segments: Open %.2f s", cfg.Quantized, n, len(m.Segments), opened.Seconds())
	t.Logf("after Open:          anonymous +%s, mapped file pages +%s", per(anon1-anon0), per(file1-file0))
	t.Logf("after %d searches: anonymous +%s, mapped file pages +%s", queries, per(anon2-anon0), per(file2-file0))
}

// rssParts reads RssAnon and RssFile from /proc/self/status, in bytes.
func rssParts(t *testing.T) (anon, file int64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "RssAnon:":
			anon = kb << 10
		case "RssFile:":
			file = kb << 10
		}
	}
	return anon, file
}
