package graph

// This file is the adapter of the named library github.com/coder/hnsw, kept for the benchmarks'
// comparison with the package's own HNSW (which the service builds). It sits in this package
// because it writes the same checksummed graph format.

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"slices"
	"sync"

	"github.com/coder/hnsw"
	"github.com/viterin/vek/vek32"
)

// coderDistanceName is the name under which dotDistance is registered with
// coder/hnsw; Export writes it and Import looks it up.
const coderDistanceName = "facematch-dot"

// coderExportVersion is the only coder/hnsw Export encoding this wrapper
// can transcode (encode.go: encodingVersion).
const coderExportVersion = 1

// dotDistance is 1 − a·b: the cosine distance for L2-normalised vectors,
// without the two norm computations of hnsw.CosineDistance.
func dotDistance(a, b []float32) float32 { return 1 - vek32.Dot(a, b) }

func init() {
	// RegisterDistanceFunc writes an unsynchronised global map: register
	// once, before any goroutine can Export or Import.
	hnsw.RegisterDistanceFunc(coderDistanceName, dotDistance)
}

// Coder wraps a github.com/coder/hnsw graph (main branch; v0.6.1 returns
// near-random neighbours) so it satisfies Graph: it checks dimensions and
// arguments and returns errors where the library would panic, maps keys to
// segment positions, and adds the locking the library lacks.
//
// Concurrency: Coder is safe for concurrent use. The library graph has no
// synchronisation, so mu guards it: Search holds the read lock while the
// graph's EfSearch equals the requested ef, and the write lock when it must
// change EfSearch (the library has no per-call ef), so mixing ef values
// serialises searches. WriteTo holds the read lock.
type Coder struct {
	mu sync.RWMutex // guards g, including g.EfSearch
	g  *hnsw.Graph[uint32]

	vectors        []float32 // segment-owned; used for exact similarities
	dim, n         int
	efConstruction int
	efSearch       int // default ef for Search(…, 0)
	seed           int64
}

// BuildCoder builds a coder/hnsw graph over vectors (n×dim, L2-normalised)
// with key i for row i. Built graphs reference the rows of vectors without
// copying them. The library inserts one node at a time and cannot be
// parallelised (it has no locking), so cfg.Workers is ignored. Build uses
// cfg.EfConstruction as the library's EfSearch while adding, then switches
// to cfg.EfSearch. The distance is 1 − dot product; ctx is checked between
// insertions.
func BuildCoder(ctx context.Context, vectors []float32, dim int, cfg Config) (*Coder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n, err := checkVectors(vectors, dim)
	if err != nil {
		return nil, err
	}
	g := hnsw.NewGraph[uint32]()
	g.M = cfg.M
	g.Distance = dotDistance
	g.EfSearch = cfg.EfConstruction
	g.Rng = rand.New(rand.NewSource(cfg.Seed))
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("graph: coder build cancelled after %d of %d vectors: %w", i, n, err)
		}
		o := i * dim
		g.Add(hnsw.MakeNode(uint32(i), vectors[o:o+dim:o+dim]))
	}
	g.EfSearch = cfg.EfSearch
	return &Coder{
		g: g, vectors: vectors, dim: dim, n: n,
		efConstruction: cfg.EfConstruction, efSearch: cfg.EfSearch, seed: cfg.Seed,
	}, nil
}

// Len returns the number of vectors in the graph.
func (c *Coder) Len() int { return c.n }

// Dim returns the vector dimension.
func (c *Coder) Dim() int { return c.dim }

// Search implements Graph. Arguments are checked before the library is
// called (it panics on a dimension mismatch). Similarities are recomputed
// exactly from the segment's vectors rather than derived from the
// library's distances, and results are sorted by them, highest first.
func (c *Coder) Search(query []float32, k, ef int) ([]Neighbor, error) {
	if err := checkQuery(query, c.dim, k); err != nil {
		return nil, err
	}
	if ef < 0 {
		return nil, fmt.Errorf("graph: ef must not be negative, got %d", ef)
	}
	if c.n == 0 {
		return []Neighbor{}, nil
	}
	if ef == 0 {
		ef = c.efSearch
	}
	ef = max(ef, k)

	var res []hnsw.SearchResult[uint32]
	c.mu.RLock()
	if c.g.EfSearch == ef {
		res = c.g.SearchWithDistance(query, k)
		c.mu.RUnlock()
	} else {
		c.mu.RUnlock()
		c.mu.Lock()
		c.g.EfSearch = ef
		res = c.g.SearchWithDistance(query, k)
		c.mu.Unlock()
	}

	out := make([]Neighbor, 0, len(res))
	for _, r := range res {
		if int(r.Key) >= c.n {
			continue // cannot happen for graphs built or read here
		}
		o := int(r.Key) * c.dim
		out = append(out, Neighbor{ID: r.Key, Similarity: vek32.Dot(query, c.vectors[o:o+c.dim])})
	}
	slices.SortStableFunc(out, func(a, b Neighbor) int {
		if a.Similarity != b.Similarity {
			return cmp.Compare(b.Similarity, a.Similarity)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// coderLayer is one layer of a coder graph in canonical form: keys
// ascending, each node's neighbours ascending, adjacency flattened.
type coderLayer struct {
	keys []uint32
	off  []uint32 // neighbours of keys[i] are adj[off[i]:off[i+1]]
	adj  []uint32
}

// WriteTo serialises the graph without vectors. The library's Export
// repeats every vector on every layer, has no checksum and iterates maps
// (so its bytes differ run to run); WriteTo streams Export through a
// transcoder that drops the vectors and writes each layer in canonical
// order (keys and neighbour lists sorted), inside our header and CRC-32C
// trailer. Body after the header: Ml float64, nLayers uint32, then per
// layer nNodes uint32 and per node key, count, neighbours (uint32s).
// Safe to call concurrently with Search.
func (c *Coder) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := newCRCWriter(bw)
	err := c.writeTo(cw)
	if err == nil {
		err = cw.finish()
	}
	if err == nil {
		err = bw.Flush()
	}
	n := cw.n - int64(bw.Buffered())
	if err != nil {
		return n, fmt.Errorf("graph: writing coder graph: %w", err)
	}
	return n, nil
}

func (c *Coder) writeTo(w io.Writer) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := c.g.M
	if m < 2 || m > maxM {
		return fmt.Errorf("library M %d out of range", m)
	}
	pr, pw := io.Pipe()
	exportErr := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<16)
		err := c.g.Export(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		exportErr <- err
	}()
	err := c.transcode(bufio.NewReaderSize(pr, 1<<16), w, m)
	pr.CloseWithError(errors.New("transcoder stopped")) // unblock Export on early exit
	if eerr := <-exportErr; err == nil && eerr != nil {
		err = eerr
	}
	return err
}

// transcode parses the library's Export stream (encode.go, version 1):
// varint version, varint M, float64 Ml, varint EfSearch, string distance,
// varint nLayers, then per layer varint nNodes and per node uint32 key,
// []float32 vector (varint length + data), varint nNeighbors, uint32s.
func (c *Coder) transcode(r *bufio.Reader, w io.Writer, m int) error {
	version, err := binary.ReadVarint(r)
	if err != nil {
		return fmt.Errorf("export version: %w", err)
	}
	if version != coderExportVersion {
		return fmt.Errorf("unsupported coder/hnsw export version %d", version)
	}
	if _, err := binary.ReadVarint(r); err != nil { // M, taken from c.g.M
		return err
	}
	var ml float64
	if err := binary.Read(r, byteOrder, &ml); err != nil {
		return err
	}
	if _, err := binary.ReadVarint(r); err != nil { // EfSearch: ours is in the header
		return err
	}
	nameLen, err := binary.ReadVarint(r)
	if err != nil {
		return err
	}
	if _, err := r.Discard(int(nameLen)); err != nil {
		return err
	}
	nLayers, err := binary.ReadVarint(r)
	if err != nil {
		return err
	}
	if nLayers < 0 || nLayers > maxLevels+32 || (c.n > 0) != (nLayers > 0) {
		return fmt.Errorf("export has %d layers for %d nodes", nLayers, c.n)
	}

	hd := header{
		kind: kindCoder, dim: uint32(c.dim), n: uint32(c.n), m: uint32(m), m0: uint32(m),
		efConstruction: uint32(c.efConstruction), efSearch: uint32(c.efSearch),
		maxLevel: uint32(nLayers), seed: c.seed,
	}
	if _, err := w.Write(hd.encode()); err != nil {
		return err
	}
	if err := writeAll(w, byteOrder.AppendUint64(nil, math.Float64bits(ml)), byteOrder.AppendUint32(nil, uint32(nLayers))); err != nil {
		return err
	}
	var word [4]byte
	readU32 := func() (uint32, error) {
		if _, err := io.ReadFull(r, word[:]); err != nil {
			return 0, eofIsUnexpected(err)
		}
		return byteOrder.Uint32(word[:]), nil
	}
	buf := make([]byte, 1<<15)
	var layer coderLayer
	for li := range int(nLayers) {
		nNodes, err := binary.ReadVarint(r)
		if err != nil {
			return err
		}
		if nNodes < 1 || nNodes > int64(c.n) {
			return fmt.Errorf("layer %d has %d nodes", li, nNodes)
		}
		type nodeRef struct{ key, start, end uint32 }
		nodes := make([]nodeRef, 0, nNodes)
		adj := layer.adj[:0]
		for range nNodes {
			key, err := readU32()
			if err != nil {
				return err
			}
			vlen, err := binary.ReadVarint(r)
			if err != nil {
				return err
			}
			if vlen != int64(c.dim) {
				return fmt.Errorf("node %d has %d dimensions", key, vlen)
			}
			if _, err := r.Discard(4 * int(vlen)); err != nil {
				return err
			}
			cnt, err := binary.ReadVarint(r)
			if err != nil {
				return err
			}
			if cnt < 0 || cnt > int64(m) {
				return fmt.Errorf("node %d has %d neighbours", key, cnt)
			}
			start := uint32(len(adj))
			for range cnt {
				nb, err := readU32()
				if err != nil {
					return err
				}
				adj = append(adj, nb)
			}
			slices.Sort(adj[start:])
			nodes = append(nodes, nodeRef{key, start, uint32(len(adj))})
		}
		slices.SortFunc(nodes, func(a, b nodeRef) int { return cmp.Compare(a.key, b.key) })
		out := make([]uint32, 0, 1+2*len(nodes)+len(adj))
		out = append(out, uint32(len(nodes)))
		for _, nd := range nodes {
			out = append(out, nd.key, nd.end-nd.start)
			out = append(out, adj[nd.start:nd.end]...)
		}
		if err := writeUint32s(w, out, buf); err != nil {
			return err
		}
		layer.adj = adj
	}
	return nil
}

func writeAll(w io.Writer, parts ...[]byte) error {
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// ReadCoder loads a graph written by (*Coder).WriteTo over the segment's
// vectors. It checks the header, the CRC-32C and every invariant the library
// relies on without checking (unique keys in range, each upper layer a
// subset of the one below, neighbours present on their layer, counts within
// M), so corrupt input returns an error and never reaches a library panic.
// It then replays the graph into the library's Import. Import allocates its
// own copy of every vector on every layer (it cannot reference the segment
// array), so a read Coder holds the vectors again: a limitation of
// coder/hnsw that the built graph does not have.
func ReadCoder(r io.Reader, vectors []float32, dim int) (*Coder, error) {
	cr := newCRCReader(r)
	hd, err := readHeader(cr, kindCoder, vectors, dim)
	if err != nil {
		return nil, err
	}
	n := int(hd.n)
	if hd.m0 != hd.m || hd.entry != 0 || hd.upperLen != 0 {
		return nil, fmt.Errorf("%w: coder header fields", ErrCorrupt)
	}
	var pre [12]byte
	if _, err := io.ReadFull(cr, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: reading parameters: %w", ErrCorrupt, eofIsUnexpected(err))
	}
	ml := math.Float64frombits(byteOrder.Uint64(pre[:]))
	nLayers := byteOrder.Uint32(pre[8:])
	if !(ml > 0 && ml < 1) {
		return nil, fmt.Errorf("%w: Ml %v", ErrCorrupt, ml)
	}
	if nLayers != hd.maxLevel || nLayers > maxLevels+32 || (n > 0) != (nLayers > 0) {
		return nil, fmt.Errorf("%w: %d layers for %d nodes", ErrCorrupt, nLayers, n)
	}
	m := int(hd.m)
	layers := make([]coderLayer, nLayers)
	level := make([]uint8, n) // level[k] = index of the highest layer read so far holding k, +1
	var word [4]byte
	readU32 := func() (uint32, error) {
		if _, err := io.ReadFull(cr, word[:]); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrCorrupt, eofIsUnexpected(err))
		}
		return byteOrder.Uint32(word[:]), nil
	}
	for li := range layers {
		cnt, err := readU32()
		if err != nil {
			return nil, err
		}
		if cnt < 1 || int(cnt) > n || (li == 0 && int(cnt) != n) || (li > 0 && int(cnt) > len(layers[li-1].keys)) {
			return nil, fmt.Errorf("%w: layer %d has %d nodes", ErrCorrupt, li, cnt)
		}
		L := coderLayer{keys: make([]uint32, cnt), off: make([]uint32, cnt+1)}
		for i := range L.keys {
			k, err := readU32()
			if err != nil {
				return nil, err
			}
			if int(k) >= n || int(level[k]) != li || (i > 0 && k <= L.keys[i-1]) {
				return nil, fmt.Errorf("%w: layer %d key %d out of order or not on the layer below", ErrCorrupt, li, k)
			}
			level[k] = uint8(li + 1)
			L.keys[i] = k
			nn, err := readU32()
			if err != nil {
				return nil, err
			}
			if int(nn) > m {
				return nil, fmt.Errorf("%w: layer %d node %d has %d neighbours", ErrCorrupt, li, k, nn)
			}
			for j := range nn {
				nb, err := readU32()
				if err != nil {
					return nil, err
				}
				if int(nb) >= n || (j > 0 && nb <= L.adj[len(L.adj)-1]) {
					return nil, fmt.Errorf("%w: layer %d node %d neighbour %d", ErrCorrupt, li, k, nb)
				}
				L.adj = append(L.adj, nb)
			}
			L.off[i+1] = uint32(len(L.adj))
		}
		layers[li] = L
	}
	if err := cr.verify(); err != nil {
		return nil, err
	}
	// Neighbours must exist on their layer, or Import leaves nil pointers
	// that Search would dereference.
	for li, L := range layers {
		for _, nb := range L.adj {
			if int(level[nb]) < li+1 {
				return nil, fmt.Errorf("%w: layer %d links to %d, which is not on it", ErrCorrupt, li, nb)
			}
		}
	}

	g := hnsw.NewGraph[uint32]()
	g.Rng = rand.New(rand.NewSource(hd.seed))
	if err := importCoder(g, layers, vectors, dim, m, ml, int(hd.efSearch)); err != nil {
		return nil, fmt.Errorf("graph: importing coder graph: %w", err)
	}
	if g.Len() != n {
		return nil, fmt.Errorf("%w: imported %d nodes, want %d", ErrCorrupt, g.Len(), n)
	}
	return &Coder{
		g: g, vectors: vectors, dim: dim, n: n,
		efConstruction: int(hd.efConstruction), efSearch: int(hd.efSearch), seed: hd.seed,
	}, nil
}

// importCoder replays validated layers, with vectors from the segment, as
// the library's Export stream into g.Import through a pipe.
func importCoder(g *hnsw.Graph[uint32], layers []coderLayer, vectors []float32, dim, m int, ml float64, ef int) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		bw := bufio.NewWriterSize(pw, 1<<16)
		err := func() error {
			var vb []byte
			put := func(v int) { vb = binary.AppendVarint(vb, int64(v)) }
			put(coderExportVersion)
			put(m)
			vb = byteOrder.AppendUint64(vb, math.Float64bits(ml))
			put(ef)
			put(len(coderDistanceName))
			vb = append(vb, coderDistanceName...)
			put(len(layers))
			for _, L := range layers {
				put(len(L.keys))
				for i, k := range L.keys {
					vb = byteOrder.AppendUint32(vb, k)
					put(dim)
					for _, f := range vectors[int(k)*dim : (int(k)+1)*dim] {
						vb = byteOrder.AppendUint32(vb, math.Float32bits(f))
					}
					nbs := L.adj[L.off[i]:L.off[i+1]]
					put(len(nbs))
					for _, nb := range nbs {
						vb = byteOrder.AppendUint32(vb, nb)
					}
					if _, err := bw.Write(vb); err != nil {
						return err
					}
					vb = vb[:0]
				}
				if _, err := bw.Write(vb); err != nil {
					return err
				}
				vb = vb[:0]
			}
			if _, err := bw.Write(vb); err != nil {
				return err
			}
			return bw.Flush()
		}()
		pw.CloseWithError(err)
	}()
	err := g.Import(bufio.NewReaderSize(pr, 1<<16))
	pr.CloseWithError(errors.New("import stopped")) // unblock the writer on early exit
	<-done
	return err
}
