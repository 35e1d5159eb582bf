// Package hnswlib runs hnswlib, the reference HNSW implementation, as the baseline of the
// index benchmark: on the same vectors, in the same run, with the same M and efConstruction.
//
// The baseline is a small C++ program, hnswbench/hnswbench.cpp (embedded here; it sits in a
// subdirectory because Go refuses C++ files in a package directory that does not use cgo),
// compiled against Debian's header-only libhnswlib-dev with -O3 -march=native (Debian's
// python3-hnswlib is built for SSE only and would understate hnswlib). bench/hnswlib/install
// installs the headers and g++.
//
//	bin, err := hnswlib.Build(ctx)         // compiles once into the user's cache dir
//	hnswlib.WriteVectors(base, dim, vecs)  // FMVEC001 files for base and queries
//	hnswlib.WriteTruth(truth, 10, ids)     // FMGT0001: exact top-k ids per query
//	res, err := hnswlib.Run(ctx, bin, hnswlib.Args{Base: base, Queries: q, Truth: truth})
//
// File formats (little-endian):
//
//	vectors: "FMVEC001", u32 dim, u64 n, n*dim float32 (row-major, L2-normalised)
//	truth:   "FMGT0001", u32 k,   u64 nq, nq*k u32 ids (exact top-k by dot product, best first);
//	         nq may be below the number of queries: recall covers the first nq
//	mates:   a truth file with one row per query: its true mates' ids (any one in the top k
//	         counts), padded with NoMate; a row of only NoMate leaves the query out
package hnswlib

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/viterin/vek/vek32"
)

//go:embed hnswbench/hnswbench.cpp
var source []byte

// CompilerFlags are the g++ flags the baseline is built with.
var CompilerFlags = []string{"-O3", "-march=native", "-std=c++17", "-pthread"}

// ErrNotInstalled is wrapped by Build's error when g++ or the hnswlib headers are missing.
var ErrNotInstalled = errors.New("g++ or the hnswlib headers (libhnswlib-dev) are missing: run bench/hnswlib/install")

// BinDir is where Build puts the program: ${XDG_CACHE_HOME:-$HOME/.cache}/facematch/bin.
func BinDir() (string, error) {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("hnswlib: no cache dir: %w", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "facematch", "bin"), nil
}

// stamp identifies a build: the source's sha256, the flags and the CPU it was built for
// (-march=native binaries must not move to an older CPU through a shared home directory).
func stamp() string {
	sum := sha256.Sum256(source)
	return fmt.Sprintf("sha256=%s flags=%s cpu=%s\n", hex.EncodeToString(sum[:]),
		strings.Join(CompilerFlags, ","), cpuID())
}

func cpuID() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	var model, flags string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		case "flags", "Features":
			if flags == "" {
				flags = strings.TrimSpace(v)
			}
		}
	}
	sum := sha256.Sum256([]byte(model + "\n" + flags))
	return hex.EncodeToString(sum[:8])
}

// Build compiles hnswbench/hnswbench.cpp into BinDir()/hnswbench unless the binary there was built from
// the same source (sha256 kept beside it in hnswbench.sha256), flags and CPU. It returns the
// binary's path. Missing g++ or headers give an error wrapping ErrNotInstalled.
func Build(ctx context.Context) (binPath string, err error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hnswbench")
	stampPath := bin + ".sha256"
	want := stamp()
	if got, err := os.ReadFile(stampPath); err == nil && string(got) == want {
		if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return bin, nil
		}
	}
	gxx, err := exec.LookPath("g++")
	if err != nil {
		return "", fmt.Errorf("hnswlib: g++ not found: %w", ErrNotInstalled)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("hnswlib: %w", err)
	}
	work, err := os.MkdirTemp(dir, ".hnswbench-build-")
	if err != nil {
		return "", fmt.Errorf("hnswlib: %w", err)
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "hnswbench.cpp")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return "", fmt.Errorf("hnswlib: %w", err)
	}
	tmpBin := filepath.Join(work, "hnswbench")
	args := append(append([]string{}, CompilerFlags...), "-o", tmpBin, src)
	cmd := exec.CommandContext(ctx, gxx, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "hnswlib/hnswlib.h") && strings.Contains(msg, "No such file") {
			return "", fmt.Errorf("hnswlib: %w (%s)", ErrNotInstalled, firstLine(msg))
		}
		return "", fmt.Errorf("hnswlib: g++ %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	// Rename into place, then write the stamp: a concurrent Build at worst compiles twice.
	if err := os.Rename(tmpBin, bin); err != nil {
		return "", fmt.Errorf("hnswlib: %w", err)
	}
	tmpStamp := filepath.Join(work, "stamp")
	if err := os.WriteFile(tmpStamp, []byte(want), 0o644); err != nil {
		return "", fmt.Errorf("hnswlib: %w", err)
	}
	if err := os.Rename(tmpStamp, stampPath); err != nil {
		return "", fmt.Errorf("hnswlib: %w", err)
	}
	return bin, nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "hnswlib.h") {
			return strings.TrimSpace(l)
		}
	}
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// WriteVectors writes len(vectors)/dim row-major float32 vectors as an FMVEC001 file.
func WriteVectors(path string, dim int, vectors []float32) error {
	if dim <= 0 || dim > math.MaxUint32 {
		return fmt.Errorf("hnswlib: WriteVectors: bad dim %d", dim)
	}
	if len(vectors)%dim != 0 {
		return fmt.Errorf("hnswlib: WriteVectors: %d floats is not a multiple of dim %d", len(vectors), dim)
	}
	var hdr [20]byte
	copy(hdr[:8], "FMVEC001")
	binary.LittleEndian.PutUint32(hdr[8:], uint32(dim))
	binary.LittleEndian.PutUint64(hdr[12:], uint64(len(vectors)/dim))
	return writeFile(path, hdr[:], func(w *bufio.Writer) error {
		var buf [4096]byte
		for i := 0; i < len(vectors); {
			n := 0
			for ; n+4 <= len(buf) && i < len(vectors); i, n = i+1, n+4 {
				binary.LittleEndian.PutUint32(buf[n:], math.Float32bits(vectors[i]))
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		return nil
	})
}

// NoMate pads a row of a mates file.
const NoMate = math.MaxUint32

// WriteTruth writes an FMGT0001 file: for each query, exactly k ids (ids[q] must have length k).
// A mates file is WriteTruth(path, 2, [][]uint32{{mate0a, mate0b}, {mate1, NoMate}, ...}).
func WriteTruth(path string, k int, ids [][]uint32) error {
	if k <= 0 || k > math.MaxUint32 {
		return fmt.Errorf("hnswlib: WriteTruth: bad k %d", k)
	}
	for q, row := range ids {
		if len(row) != k {
			return fmt.Errorf("hnswlib: WriteTruth: query %d has %d ids, want k=%d", q, len(row), k)
		}
	}
	var hdr [20]byte
	copy(hdr[:8], "FMGT0001")
	binary.LittleEndian.PutUint32(hdr[8:], uint32(k))
	binary.LittleEndian.PutUint64(hdr[12:], uint64(len(ids)))
	return writeFile(path, hdr[:], func(w *bufio.Writer) error {
		var b [4]byte
		for _, row := range ids {
			for _, id := range row {
				binary.LittleEndian.PutUint32(b[:], id)
				if _, err := w.Write(b[:]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func writeFile(path string, hdr []byte, body func(*bufio.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("hnswlib: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("hnswlib: %w", cerr)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("hnswlib: %w", err)
	}
	if err := body(w); err != nil {
		return fmt.Errorf("hnswlib: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("hnswlib: %w", err)
	}
	return nil
}

// ExactTopK returns, for each query, the ids of the k base vectors with the largest dot
// product, best first (ties: lower id first), using workers goroutines (<= 0: GOMAXPROCS).
// base and queries are row-major with the given dim. It is the ground truth for WriteTruth.
func ExactTopK(dim int, base, queries []float32, k, workers int) [][]uint32 {
	if dim <= 0 || len(base)%dim != 0 || len(queries)%dim != 0 {
		panic("hnswlib: ExactTopK: slice lengths are not multiples of dim")
	}
	n, nq := len(base)/dim, len(queries)/dim
	if k > n {
		k = n
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([][]uint32, nq)
	var next sync.Mutex
	q := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := make(minHeap, 0, k+1)
			for {
				next.Lock()
				i := q
				q++
				next.Unlock()
				if i >= nq {
					return
				}
				qv := queries[i*dim : (i+1)*dim]
				h = h[:0]
				for j := 0; j < n; j++ {
					s := dot(qv, base[j*dim:(j+1)*dim])
					if len(h) < k {
						h.push(scored{s, uint32(j)})
					} else if better(scored{s, uint32(j)}, h[0]) {
						h[0] = scored{s, uint32(j)}
						h.down(0)
					}
				}
				sorted := append([]scored(nil), h...)
				sort.Slice(sorted, func(a, b int) bool { return better(sorted[a], sorted[b]) })
				ids := make([]uint32, len(sorted))
				for r, s := range sorted {
					ids[r] = s.id
				}
				out[i] = ids
			}
		}()
	}
	wg.Wait()
	return out
}

type scored struct {
	s  float32
	id uint32
}

func better(a, b scored) bool { return a.s > b.s || (a.s == b.s && a.id < b.id) }

// minHeap keeps the worst of the current top-k at [0].
type minHeap []scored

func (h *minHeap) push(x scored) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !better(s[p], s[i]) {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h minHeap) down(i int) {
	for {
		l, worst := 2*i+1, i
		if l < len(h) && better(h[worst], h[l]) {
			worst = l
		}
		if r := l + 1; r < len(h) && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// dot is vek32's SIMD dot product, the kernel the index's exact search uses, so exact search is
// timed at its best.
func dot(a, b []float32) float32 { return vek32.Dot(a, b[:len(a)]) }

// Args are hnswbench's command line. Zero values take the defaults noted.
type Args struct {
	Base, Queries, Truth string    // required: FMVEC001, FMVEC001, FMGT0001 files
	Mates                string    // optional FMGT0001 file: each query's true mates (see NoMate)
	M                    int       // default 16
	EfConstruction       int       // default 200
	Threads              int       // build threads; default 2
	Ef                   []int     // search ef values; default 16,32,64,128,256
	K                    int       // results per query; default 10
	Seed                 int       // hnswlib's level generator seed; default 100
	NoSave               bool      // skip saveIndex: index_bytes is then hnswlib's memory estimate
	SaveIndex            string    // write the built index to this file (see Reuse)
	LoadIndex            string    // read the index from this file instead of building it
	Stderr               io.Writer // receives the program's stderr (diagnostics) if set
}

// DefaultEf is the ef sweep used when Args.Ef is empty.
var DefaultEf = []int{16, 32, 64, 128, 256}

func (a Args) argv() ([]string, error) {
	if a.Base == "" || a.Queries == "" || a.Truth == "" {
		return nil, errors.New("hnswlib: Args needs Base, Queries and Truth")
	}
	def := func(v, d int) string {
		if v <= 0 {
			v = d
		}
		return strconv.Itoa(v)
	}
	ef := a.Ef
	if len(ef) == 0 {
		ef = DefaultEf
	}
	efs := make([]string, len(ef))
	for i, e := range ef {
		if e <= 0 {
			return nil, fmt.Errorf("hnswlib: bad ef %d", e)
		}
		efs[i] = strconv.Itoa(e)
	}
	argv := []string{
		"--base", a.Base, "--queries", a.Queries, "--truth", a.Truth,
		"--M", def(a.M, 16), "--efc", def(a.EfConstruction, 200), "--threads", def(a.Threads, 2),
		"--ef", strings.Join(efs, ","), "--k", def(a.K, 10), "--seed", def(a.Seed, 100),
	}
	if a.Mates != "" {
		argv = append(argv, "--mates", a.Mates)
	}
	if a.NoSave {
		argv = append(argv, "--no-save")
	}
	if a.SaveIndex != "" && a.LoadIndex != "" {
		return nil, errors.New("hnswlib: Args has both SaveIndex and LoadIndex")
	}
	if a.SaveIndex != "" {
		argv = append(argv, "--save-index", a.SaveIndex)
	}
	if a.LoadIndex != "" {
		argv = append(argv, "--load-index", a.LoadIndex)
	}
	return argv, nil
}

// Result is hnswbench's JSON output.
type Result struct {
	N              int    `json:"n"`
	Dim            int    `json:"dim"`
	NQ             int    `json:"nq"`
	K              int    `json:"k"`
	M              int    `json:"M"`
	EfConstruction int    `json:"ef_construction"`
	Threads        int    `json:"threads"` // build threads
	SIMD           string `json:"simd"`    // distance kernel hnswlib chose: avx512, avx, sse

	BuildSeconds     float64 `json:"build_seconds"`
	BuildVectorsPerS float64 `json:"build_vectors_per_s"`

	// IndexBytes is the size of hnswlib's saveIndex output (IndexBytesSource "saveIndex"), or
	// the memory estimate with NoSave ("estimate"); BytesPerVectorBeyondVector subtracts dim*4.
	IndexBytes                 int64   `json:"index_bytes"`
	IndexBytesSource           string  `json:"index_bytes_source"`
	BytesPerVectorBeyondVector float64 `json:"bytes_per_vector_beyond_vector"`
	// MemoryBytesEstimate adds per-element bookkeeping (locks, level, label map) to the graph.
	MemoryBytesEstimate              int64   `json:"memory_bytes_estimate"`
	MemoryBytesPerVectorBeyondVector float64 `json:"memory_bytes_per_vector_beyond_vector"`

	QPSThreads int `json:"qps_threads"` // always 1: queries run one after another
	// Reused: the index was loaded from RunReusing's saved file; the build figures are the
	// saved ones, from the run that built it.
	Reused  bool       `json:"reused_index,omitempty"`
	Results []EfResult `json:"results"`
}

// EfResult is one point of the ef sweep. Recalls are at Result.K (10 by default).
type EfResult struct {
	Ef             int      `json:"ef"`
	RecallAt10     float64  `json:"recall_at_10"`
	MateRecallAt10 *float64 `json:"mate_recall_at_10,omitempty"` // nil without Args.Mates
	QPS1Thread     float64  `json:"qps_1thread"`
	P50Ms          float64  `json:"p50_ms"`
	P99Ms          float64  `json:"p99_ms"`
}

// AtRecall returns the cheapest sweep point (highest QPS) whose recall@10 (and mate recall,
// when mateRecall > 0 and measured) reaches the targets, or false when none does.
func (r *Result) AtRecall(recall, mateRecall float64) (EfResult, bool) {
	var best EfResult
	found := false
	for _, e := range r.Results {
		if e.RecallAt10 < recall {
			continue
		}
		if mateRecall > 0 && (e.MateRecallAt10 == nil || *e.MateRecallAt10 < mateRecall) {
			continue
		}
		if !found || e.QPS1Thread > best.QPS1Thread {
			best, found = e, true
		}
	}
	return best, found
}

// Run runs the baseline program bin (from Build) and parses its JSON output. The program's
// stderr goes to args.Stderr when set and is quoted in the error when it fails.
func Run(ctx context.Context, bin string, args Args) (*Result, error) {
	argv, err := args.argv()
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("hnswlib: %s: %w", bin, ctx.Err())
		}
		return nil, fmt.Errorf("hnswlib: %s: %v: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	if args.Stderr != nil {
		_, _ = args.Stderr.Write(stderr.Bytes())
	}
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("hnswlib: parsing %s's output: %w: %q", bin, err, stdout.String())
	}
	want := len(args.Ef)
	if want == 0 {
		want = len(DefaultEf)
	}
	if len(res.Results) != want || res.N <= 0 || (res.BuildVectorsPerS <= 0 && args.LoadIndex == "") {
		return nil, fmt.Errorf("hnswlib: incomplete output from %s: %q", bin, stdout.String())
	}
	return &res, nil
}
