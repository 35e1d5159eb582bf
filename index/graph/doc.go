// Package graph builds approximate nearest-neighbour graphs for sealed
// (immutable after build) index segments of L2-normalised float32 face
// embeddings (512-d or 640-d). Similarity is the dot product, which for
// normalised vectors is cosine similarity; results carry similarity, never
// distance.
//
// # Philosophy
//
// A sealed segment never changes, so its graph is built once, in the
// background, and then only read. That lets the graph drop everything a
// mutable index pays for: no deletes, no per-node pointers, no locks on the
// search path. The vectors stay in the segment's own contiguous array; a
// graph references that array and stores only adjacency. The graph is a
// derived artefact: it can always be rebuilt from the vectors.
//
// # Key types
//
//   - [Graph] is what the index consumes: Search, Len, WriteTo.
//   - [HNSW] is our own hierarchical navigable small world graph, built by
//     [Build] with a parallel insert (hnswlib's scheme: per-node mutexes,
//     heuristic neighbour selection) and loaded by [Read].
//   - [Coder] is an adapter, not a second production graph: it wraps the
//     named library github.com/coder/hnsw (main branch; never v0.6.1, which
//     returns near-random neighbours) behind a RWMutex and argument checks,
//     built by [BuildCoder] and loaded by [ReadCoder], and writes the same
//     file format as [HNSW]. It lives in adapter_coderhnsw.go, beside the
//     format it shares, and exists so that the benchmarks (`facematch bench
//     index --graph coder`) measure the library against [HNSW]. The service
//     always builds [HNSW].
//   - [Quantized] is an [HNSW] searched on 8-bit codes of its vectors
//     (package index/quant, one rotation seed, [QuantSeed], for every
//     graph): the walk estimates similarities with an integer dot product,
//     and the best candidates are rescored with the float32 vectors, so the
//     similarities it returns are exact. Made by [Quantize] from a built or
//     read HNSW; the codes are not in the file format (issue 17).
//   - [SharedBound] is one query's top-k threshold shared by its walks over
//     several graphs (the index's segments): [HNSW] and [Quantized] take it
//     through the optional [BoundedSearcher], and [Quantized] a query
//     prepared once through [PreparedSearcher].
//   - [Config] holds M, EfConstruction, EfSearch, Seed and Workers; its
//     zero value means the defaults (16, 200, 64, 0, GOMAXPROCS) and
//     [Config.Validate] reports every problem at once.
//
// Both graphs are safe for concurrent use once built. [HNSW] searches are
// lock-free; [Coder] searches share a read lock, except that changing ef
// (a field of the library graph) takes the write lock.
//
// # Layout and memory of HNSW
//
// Per vector, beyond the vector itself (2,048 bytes at 512-d):
//
//	base layer   (2M+1) × 4 bytes  one slab: count + up to 2M neighbour IDs
//	level        1 byte
//	upper offset 4 bytes           index into the upper slab
//	upper layers ≈ (M+1) × 4 / (M−1) bytes on average (a node reaches
//	             layer l with probability M^−l; each layer is M+1 words)
//
// With M = 16 that is 132 + 1 + 4 + 4.5 ≈ 142 bytes per vector (measured:
// 141.6 at n = 20,000), against about 170 for hnswlib and about 900 for
// coder/hnsw, whose nodes are a struct and a Go map per layer. The slabs
// hold no pointers, so the garbage collector never scans them. Search
// scratch (a visited array of n uint16 generation marks, reset in O(1) per
// query, and two small heaps) comes from a sync.Pool, so a query allocates
// only its result. Building holds one sync.Mutex per node (8n bytes) until
// Build returns.
//
// # File format
//
// WriteTo never writes vectors: the segment stores them, and Read is given
// them back. All integers are little-endian.
//
//	header (64 bytes)
//	  magic    "FMGRAPH\x00"
//	  version  uint16 = 1
//	  kind     uint16   1 = HNSW, 2 = Coder
//	  dim, n, M, M0, efConstruction, efSearch, entry, maxLevel  uint32
//	  upperLen uint64   words in the upper slab (0 for Coder)
//	  seed     int64
//	  reserved uint32 = 0
//	body, kind 1 (HNSW)
//	  levels   [n]uint8
//	  base     [n × (M0+1)]uint32
//	  upper    [upperLen]uint32   (node offsets are recomputed from levels)
//	body, kind 2 (Coder; maxLevel holds the number of layers)
//	  Ml float64, nLayers uint32, then per layer, bottom first:
//	  nNodes uint32, then per node in ascending key order:
//	  key uint32, count uint32, neighbours [count]uint32 ascending
//	trailer
//	  CRC-32C (Castagnoli) uint32 of every preceding byte
//
// An HNSW file is about (2M+1)×4 + 1 bytes per vector (137.6 measured at
// M = 16); a Coder file about 96. The readers check the version, that dim
// and n match the vectors supplied, the checksum, and then every structural
// invariant search relies on, so corrupt input returns an error wrapping
// [ErrCorrupt], [ErrVersion] or [ErrDimension] and never panics; they
// allocate in proportion to the vector array, not to counts read from the
// input. The Coder writer transcodes the library's Export stream (which
// repeats every vector on every layer, has no checksum and follows map
// order) into the canonical form above; the reader validates it and replays
// it, with vectors from the segment, into the library's Import, which then
// holds its own copy of the vectors (a library limitation).
//
// # Measured
//
// On a 2-core AMD EPYC, n = 20,000 face-like 512-d vectors, M = 16,
// efConstruction = 200, k = 10, one goroutine per query:
//
//	                build (2 cores)   ef=32            ef=64            ef=128
//	HNSW            5,300 vectors/s   5,900 QPS 0.955  3,100 QPS 0.980  1,800 QPS 0.992
//	coder/hnsw        350 vectors/s   1,300 QPS 0.872    700 QPS 0.930    360 QPS 0.953
//
// (queries/s and recall@10 against exact search; go test -bench in this
// package reproduces them.)
package graph
