package graph

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// impl is one Graph implementation under test.
type impl struct {
	name  string
	build func(ctx context.Context, vectors []float32, dim int, cfg Config) (Graph, error)
	read  func(r io.Reader, vectors []float32, dim int) (Graph, error)
}

var impls = []impl{
	{
		name: "hnsw",
		build: func(ctx context.Context, v []float32, dim int, cfg Config) (Graph, error) {
			g, err := Build(ctx, v, dim, cfg)
			if err != nil {
				return nil, err
			}
			return g, nil
		},
		read: func(r io.Reader, v []float32, dim int) (Graph, error) {
			g, err := Read(r, v, dim)
			if err != nil {
				return nil, err
			}
			return g, nil
		},
	},
	{
		name: "coder",
		build: func(ctx context.Context, v []float32, dim int, cfg Config) (Graph, error) {
			g, err := BuildCoder(ctx, v, dim, cfg)
			if err != nil {
				return nil, err
			}
			return g, nil
		},
		read: func(r io.Reader, v []float32, dim int) (Graph, error) {
			g, err := ReadCoder(r, v, dim)
			if err != nil {
				return nil, err
			}
			return g, nil
		},
	},
}

// faceLike generates n L2-normalised vectors shaped like face embeddings
// rather than isotropic noise: identities are drawn from an anisotropic
// Gaussian (variance of dimension i ∝ 1/(i+1), so impostor similarities
// spread like real ones, ≈ 0.0 ± 0.1), and each identity has perID samples
// around its centre (genuine similarity ≈ 0.6). It returns the vectors and
// nq mated queries: fresh samples of random identities, not in the set.
func faceLike(seed uint64, n, nq, dim, perID int) (vectors, queries []float32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	scale := make([]float64, dim)
	for i := range scale {
		scale[i] = 1 / math.Sqrt(float64(i+1))
	}
	ids := max(1, n/perID)
	centres := make([]float64, ids*dim)
	for c := range ids {
		row := centres[c*dim : (c+1)*dim]
		for i := range row {
			row[i] = rng.NormFloat64() * scale[i]
		}
		normalize64(row)
	}
	noise := 0.8 / math.Sqrt(float64(dim))
	sample := func(dst []float32, c int) {
		row := make([]float64, dim)
		for i := range row {
			row[i] = centres[c*dim+i] + rng.NormFloat64()*noise
		}
		normalize64(row)
		for i, x := range row {
			dst[i] = float32(x)
		}
	}
	vectors = make([]float32, n*dim)
	for i := range n {
		sample(vectors[i*dim:(i+1)*dim], i%ids)
	}
	queries = make([]float32, nq*dim)
	for i := range nq {
		sample(queries[i*dim:(i+1)*dim], rng.IntN(ids))
	}
	return vectors, queries
}

func normalize64(v []float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	s = 1 / math.Sqrt(s)
	for i := range v {
		v[i] *= s
	}
}

// exact returns the IDs of the k most similar vectors by brute force.
func exact(vectors []float32, dim int, q []float32, k int) []uint32 {
	n := len(vectors) / dim
	all := make([]Neighbor, n)
	for i := range n {
		all[i] = Neighbor{ID: uint32(i), Similarity: dot(q, vectors[i*dim:(i+1)*dim])}
	}
	sort.Slice(all, func(a, b int) bool { return all[a].Similarity > all[b].Similarity })
	out := make([]uint32, 0, k)
	for _, nb := range all[:min(k, n)] {
		out = append(out, nb.ID)
	}
	return out
}

// groundTruth is exact top-k for every query.
func groundTruth(vectors, queries []float32, dim, k int) [][]uint32 {
	nq := len(queries) / dim
	gt := make([][]uint32, nq)
	for i := range nq {
		gt[i] = exact(vectors, dim, queries[i*dim:(i+1)*dim], k)
	}
	return gt
}

// recallAt is the fraction of true top-k IDs found, averaged over queries.
func recallAt(t testing.TB, g Graph, queries []float32, dim, k, ef int, gt [][]uint32) float64 {
	t.Helper()
	hit, total := 0, 0
	for i := range gt {
		res, err := g.Search(queries[i*dim:(i+1)*dim], k, ef)
		if err != nil {
			t.Fatal(err)
		}
		for _, nb := range res {
			if slices.Contains(gt[i], nb.ID) {
				hit++
			}
		}
		total += len(gt[i])
	}
	return float64(hit) / float64(total)
}

// checkSorted fails unless res is sorted by similarity, highest first,
// with valid, distinct IDs.
func checkSorted(t *testing.T, res []Neighbor, n int) {
	t.Helper()
	seen := map[uint32]bool{}
	for i, nb := range res {
		if int(nb.ID) >= n || seen[nb.ID] {
			t.Fatalf("result %d: bad or duplicate id %d (n=%d)", i, nb.ID, n)
		}
		seen[nb.ID] = true
		if i > 0 && nb.Similarity > res[i-1].Similarity {
			t.Fatalf("results not sorted at %d: %v", i, res)
		}
	}
}
