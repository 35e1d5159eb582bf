package graph

import (
	"errors"
	"fmt"
	"io"
	"runtime"
)

// Neighbor is one search result.
type Neighbor struct {
	// ID is the position of the vector in the segment (0..n-1).
	ID uint32
	// Similarity is the dot product of the query and the vector; for
	// L2-normalised vectors it is the cosine similarity in [-1, 1].
	Similarity float32
}

// Graph is an approximate nearest-neighbour graph over the vectors of one
// sealed segment. Implementations are safe for concurrent use by multiple
// goroutines once built.
type Graph interface {
	// Search returns up to k neighbours of query sorted by similarity,
	// highest first, exploring ef candidates (ef < k is raised to k; ef = 0
	// means the configured EfSearch). It returns an error when len(query)
	// is not the graph's dimension or k < 1; an empty graph yields no
	// neighbours and no error.
	Search(query []float32, k, ef int) ([]Neighbor, error)
	// Len returns the number of vectors in the graph.
	Len() int
	// WriteTo serialises the graph without its vectors (the segment owns
	// them) and returns the number of bytes written.
	WriteTo(w io.Writer) (int64, error)
}

// Compile-time conformance.
var (
	_ Graph = (*HNSW)(nil)
	_ Graph = (*Coder)(nil)
)

// Errors returned by Search, Build and Read. They are wrapped with context;
// test with errors.Is.
var (
	// ErrDimension means a query or the vector array does not match the
	// graph's dimension.
	ErrDimension = errors.New("graph: dimension mismatch")
	// ErrInvalidK means k < 1 was passed to Search.
	ErrInvalidK = errors.New("graph: k must be at least 1")
	// ErrCorrupt means serialised input failed a structural check or its
	// checksum.
	ErrCorrupt = errors.New("graph: corrupt input")
	// ErrVersion means serialised input has an unknown format version or
	// was written by the other implementation.
	ErrVersion = errors.New("graph: unsupported format")
)

// Defaults used for zero fields of Config.
const (
	DefaultM              = 16
	DefaultEfConstruction = 200
	DefaultEfSearch       = 64
)

// Limits on Config values; beyond them a graph stops being a sensible
// trade-off and serialised counts stop being trustworthy.
const (
	maxM   = 256
	maxEf  = 1 << 16
	maxDim = 1 << 16
)

// Config holds the build and search parameters. The zero value is valid and
// means the defaults (hnswlib's usual M=16, efConstruction=200).
type Config struct {
	// M is the number of neighbours kept per node on the upper layers; the
	// base layer keeps 2*M (as hnswlib does). 16 suits 512-d face
	// embeddings; larger M raises recall and memory (8*M bytes per vector
	// on the base layer) and slows the build.
	M int
	// EfConstruction is the candidate list size while inserting. 200 gives
	// a graph good enough for recall@10 >= 0.95 at small ef; lower builds
	// faster with a worse graph.
	EfConstruction int
	// EfSearch is the candidate list size Search uses when it is passed
	// ef = 0. Default 64.
	EfSearch int
	// Seed seeds the level generator, so a build over the same vectors
	// with Workers = 1 is deterministic. With several workers insertion
	// order varies, and so does the graph (not its quality).
	Seed int64
	// Workers is the number of goroutines inserting in parallel (HNSW
	// only; the coder/hnsw wrapper builds on one goroutine because the
	// library has no locking). Default runtime.GOMAXPROCS(0).
	Workers int
}

// Validate reports every problem with c at once. Zero fields are valid
// (they mean the default).
func (c Config) Validate() error {
	var errs []error
	if c.M != 0 && (c.M < 2 || c.M > maxM) {
		errs = append(errs, fmt.Errorf("graph: M must be in [2, %d], got %d", maxM, c.M))
	}
	if c.EfConstruction < 0 || c.EfConstruction > maxEf {
		errs = append(errs, fmt.Errorf("graph: EfConstruction must be in [0, %d], got %d", maxEf, c.EfConstruction))
	}
	if c.EfSearch < 0 || c.EfSearch > maxEf {
		errs = append(errs, fmt.Errorf("graph: EfSearch must be in [0, %d], got %d", maxEf, c.EfSearch))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("graph: Workers must not be negative, got %d", c.Workers))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("graph: invalid config: %w", errors.Join(errs...))
}

// withDefaults returns c with zero fields replaced by defaults. It assumes
// c.Validate() == nil.
func (c Config) withDefaults() Config {
	if c.M == 0 {
		c.M = DefaultM
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = DefaultEfConstruction
	}
	if c.EfConstruction < c.M {
		c.EfConstruction = c.M
	}
	if c.EfSearch == 0 {
		c.EfSearch = DefaultEfSearch
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	return c
}

// checkVectors validates the segment array shape shared by Build and Read
// and returns the number of vectors.
func checkVectors(vectors []float32, dim int) (int, error) {
	if dim < 1 || dim > maxDim {
		return 0, fmt.Errorf("%w: dim must be in [1, %d], got %d", ErrDimension, maxDim, dim)
	}
	if len(vectors)%dim != 0 {
		return 0, fmt.Errorf("%w: %d floats is not a multiple of dim %d", ErrDimension, len(vectors), dim)
	}
	n := len(vectors) / dim
	if uint64(n) > 1<<32-2 {
		return 0, fmt.Errorf("graph: %d vectors exceed the uint32 id space", n)
	}
	return n, nil
}

// checkQuery validates Search arguments common to both implementations.
func checkQuery(query []float32, dim, k int) error {
	if len(query) != dim {
		return fmt.Errorf("%w: query has %d dimensions, graph has %d", ErrDimension, len(query), dim)
	}
	if k < 1 {
		return fmt.Errorf("%w, got %d", ErrInvalidK, k)
	}
	return nil
}
