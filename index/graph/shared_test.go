package graph

import (
	"math"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/facematch/facematch/index/quant"
)

func TestSharedBoundRaise(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, tc := range []struct {
		name   string
		raises []float32
		want   float32
	}{
		{"zero value", nil, float32(math.Inf(-1))},
		{"one", []float32{0.3}, 0.3},
		{"only rises", []float32{0.5, 0.2, 0.4}, 0.5},
		{"negatives", []float32{-0.7, -0.2, -0.5}, -0.2},
		{"negative then positive", []float32{-0.1, 0, 0.1}, 0.1},
		{"zero above negatives", []float32{-1e-30, 0}, 0},
		{"NaN ignored", []float32{0.25, float32(math.NaN())}, 0.25},
		{"infinity", []float32{1, inf}, inf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b SharedBound
			for _, v := range tc.raises {
				b.Raise(v)
			}
			if got := b.Load(); got != tc.want {
				t.Errorf("Load() = %v, want %v", got, tc.want)
			}
		})
	}
	var nilBound *SharedBound
	if got := nilBound.Load(); !math.IsInf(float64(got), -1) {
		t.Errorf("nil bound Load() = %v, want -Inf", got)
	}
}

// TestSharedBoundConcurrent: concurrent raises leave the maximum (run with -race).
func TestSharedBoundConcurrent(t *testing.T) {
	var b SharedBound
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				b.Raise(float32(i*8+w)/8000 - 0.5)
			}
		}()
	}
	wg.Wait()
	if got, want := b.Load(), float32(7999)/8000-0.5; got != want {
		t.Errorf("Load() = %v, want %v", got, want)
	}
}

// TestSearchBounded: for both walks, no bound (nil or never raised) gives Search's results
// exactly; an impossible bound gives nothing; any bound gives nothing below it.
func TestSearchBounded(t *testing.T) {
	s := quantTestSet(t)
	h, g := buildQuantized(t, s.vectors, s.dim, QuantConfig{})
	q, err := NewQuantizer(s.dim)
	if err != nil {
		t.Fatal(err)
	}
	type walk struct {
		name    string
		plain   Graph
		bounded func(query []float32, k, ef int, b *SharedBound) ([]Neighbor, error)
	}
	var qq quant.Query
	walks := []walk{
		{"float32", h, h.SearchBounded},
		{"quantized", g, g.SearchBounded},
		{"prepared", g, func(query []float32, k, ef int, b *SharedBound) ([]Neighbor, error) {
			if err := q.Prepare(&qq, query); err != nil {
				return nil, err
			}
			return g.SearchPrepared(&qq, query, k, ef, b)
		}},
	}
	raised := func(v float32) *SharedBound {
		b := &SharedBound{}
		b.Raise(v)
		return b
	}
	for _, w := range walks {
		for _, tc := range []struct {
			name  string
			bound *SharedBound
			same  bool // results identical to Search's
			empty bool
		}{
			{"nil", nil, true, false},
			{"never raised", &SharedBound{}, true, false},
			{"far below", raised(-2), true, false},
			{"impossible", raised(2), false, true},
			{"mid", raised(0.3), false, false},
		} {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) {
				for i := range 50 {
					query := s.queries[i*s.dim : (i+1)*s.dim]
					want, err := w.plain.Search(query, 10, 64)
					if err != nil {
						t.Fatal(err)
					}
					got, err := w.bounded(query, 10, 64, tc.bound)
					if err != nil {
						t.Fatal(err)
					}
					if tc.same && !slices.Equal(got, want) {
						t.Fatalf("query %d: bounded %v, Search %v", i, got, want)
					}
					if tc.empty && len(got) != 0 {
						t.Fatalf("query %d: %d results above an impossible bound", i, len(got))
					}
					lim := tc.bound.Load()
					for _, nb := range got {
						if nb.Similarity < lim {
							t.Fatalf("query %d: result %v below the bound %v", i, nb, lim)
						}
					}
					checkSorted(t, got, len(s.vectors)/s.dim)
				}
			})
		}
	}
}

func TestSearchPreparedWrongQuantizer(t *testing.T) {
	s := quantTestSet(t)
	_, g := buildQuantized(t, s.vectors, s.dim, QuantConfig{})
	other, err := quant.New(quant.Config{Kind: quant.Rotated8, Dim: s.dim, Seed: QuantSeed + 1})
	if err != nil {
		t.Fatal(err)
	}
	var qq quant.Query
	query := s.queries[:s.dim]
	if err := other.Prepare(&qq, query); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SearchPrepared(&qq, query, 10, 32, nil); err == nil {
		t.Error("a query of another quantizer was accepted")
	}
	if _, err := g.SearchPrepared(nil, query, 10, 32, nil); err == nil {
		t.Error("a nil prepared query was accepted")
	}
}

// segmented is a gallery split into graphs searched as the index searches its segments: one
// prepared query, one shared bound raised with each graph's k-th result once it finishes.
type segmented struct {
	parts []*Quantized
	q     *quant.Quantizer
	per   int // vectors per part; part p holds ids p*per ...
}

func newSegmented(t testing.TB, s *synthSet, parts int) *segmented {
	n := len(s.vectors) / s.dim
	sg := &segmented{per: n / parts}
	for p := range parts {
		_, g := buildQuantized(t, s.vectors[p*sg.per*s.dim:(p+1)*sg.per*s.dim], s.dim, QuantConfig{})
		sg.parts = append(sg.parts, g)
	}
	sg.q = sg.parts[0].Quantizer()
	return sg
}

// search returns the merged top k; bounded false walks every part in full.
func (sg *segmented) search(t testing.TB, qq *quant.Query, query []float32, k, ef int, bounded bool) []Neighbor {
	if err := sg.q.Prepare(qq, query); err != nil {
		t.Fatal(err)
	}
	var b *SharedBound
	if bounded {
		b = &SharedBound{}
	}
	var all []Neighbor
	for p, g := range sg.parts {
		res, err := g.SearchPrepared(qq, query, k, ef, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) == k {
			b.raiseIfSet(res[k-1].Similarity)
		}
		for _, nb := range res {
			all = append(all, Neighbor{ID: uint32(p*sg.per) + nb.ID, Similarity: nb.Similarity})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Similarity > all[j].Similarity })
	return all[:min(k, len(all))]
}

func (b *SharedBound) raiseIfSet(v float32) {
	if b != nil {
		b.Raise(v)
	}
}

// TestSharedBoundRecall: over five graphs with one prepared query, the shared bound keeps
// recall@10 and mate recall within 0.01 of the same walks without it.
func TestSharedBoundRecall(t *testing.T) {
	s := quantTestSet(t)
	sg := newSegmented(t, s, 5)
	gt := groundTruth(s.vectors, s.queries, s.dim, 10)
	var qq quant.Query
	for _, ef := range []int{32, 64, 128} {
		var rec, mate [2]int
		for i, m := range s.mates {
			query := s.queries[i*s.dim : (i+1)*s.dim]
			for j, bounded := range []bool{false, true} {
				res := sg.search(t, &qq, query, 10, ef, bounded)
				for _, nb := range res {
					rec[j] += b2i(slices.Contains(gt[i], nb.ID))
				}
				mate[j] += b2i(slices.ContainsFunc(res, func(nb Neighbor) bool { return nb.ID == m[0] || nb.ID == m[1] }))
			}
		}
		nq := float64(len(s.mates))
		r0, r1 := float64(rec[0])/(10*nq), float64(rec[1])/(10*nq)
		m0, m1 := float64(mate[0])/nq, float64(mate[1])/nq
		t.Logf("ef %d: recall@10 %.4f unbounded, %.4f bounded; mate recall %.4f, %.4f", ef, r0, r1, m0, m1)
		if r1 < r0-0.01 || m1 < m0-0.01 {
			t.Errorf("ef %d: the shared bound lowers recall@10 %.4f → %.4f or mate recall %.4f → %.4f", ef, r0, r1, m0, m1)
		}
	}
}
