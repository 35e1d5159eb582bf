// Package synth generates face-embedding-shaped vectors for index benchmarks: not isotropic
// noise, but Gaussians fitted to real embeddings (between-identity and within-identity
// covariances), scaled so that genuine and impostor pairs score like real ones.
//
// Real embeddings are far from uniform on the sphere: they share a mean direction and most of
// their variance lies in a few hundred principal directions. Graph indexes behave differently on
// such data (neighbourhoods are denser, hubs appear), so recall measured on isotropic noise
// says little about recall on faces.
package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
)

// Model is a fitted generator. Safe for concurrent use once calibrated (Generate and SampleOf
// take their own seed).
type Model struct {
	Dim     int
	mean    []float64
	between []float64 // Cholesky factor (lower, row-major) of the identity-centre covariance
	within  []float64 // Cholesky factor of the within-identity covariance
	// CentreScale and NoiseScale multiply the two factors; Calibrate sets them.
	CentreScale, NoiseScale float64
	// PhotoSpread, when positive, gives each sample a noise scale of its own: NoiseScale times
	// exp(PhotoSpread·z - PhotoSpread²/2), z standard normal. Real photos of one person differ in
	// how hard they are (pose, light, blur, age), so their genuine similarities spread far more
	// than one noise scale gives (LFW, Faceplugin512: 10th-90th percentile 0.50-0.80; one scale:
	// 0.54-0.69) and have a low tail. 0 (the default) keeps every sample alike.
	PhotoSpread float64
}

// Fit estimates the model from unit embeddings grouped by identity label. Identities with one
// image contribute to the centre covariance only.
func Fit(embs [][]float32, labels []string) (*Model, error) {
	if len(embs) == 0 || len(embs) != len(labels) {
		return nil, errors.New("synth: need one label per embedding")
	}
	dim := len(embs[0])
	groups := map[string][]int{}
	for i, l := range labels {
		if len(embs[i]) != dim {
			return nil, fmt.Errorf("synth: embedding %d has %d dims, want %d", i, len(embs[i]), dim)
		}
		groups[l] = append(groups[l], i)
	}
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	mean := make([]float64, dim)
	for _, e := range embs {
		for j, x := range e {
			mean[j] += float64(x)
		}
	}
	for j := range mean {
		mean[j] /= float64(len(embs))
	}
	var centres, residuals [][]float64
	for _, n := range names {
		idx := groups[n]
		c := make([]float64, dim)
		for _, i := range idx {
			for j, x := range embs[i] {
				c[j] += float64(x)
			}
		}
		for j := range c {
			c[j] /= float64(len(idx))
		}
		centres = append(centres, sub(c, mean))
		if len(idx) > 1 {
			for _, i := range idx {
				r := make([]float64, dim)
				for j, x := range embs[i] {
					r[j] = float64(x) - c[j]
				}
				residuals = append(residuals, r)
			}
		}
	}
	if len(residuals) == 0 {
		return nil, errors.New("synth: no identity has two embeddings")
	}
	between, err := cholesky(covariance(centres, dim), dim)
	if err != nil {
		return nil, fmt.Errorf("synth: between-identity covariance: %w", err)
	}
	within, err := cholesky(covariance(residuals, dim), dim)
	if err != nil {
		return nil, fmt.Errorf("synth: within-identity covariance: %w", err)
	}
	return &Model{Dim: dim, mean: mean, between: between, within: within, CentreScale: 1, NoiseScale: 1}, nil
}

func sub(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// covariance of zero-mean rows, with a small ridge so the matrix is positive definite even when
// a direction has (almost) no variance.
func covariance(rows [][]float64, dim int) []float64 {
	c := make([]float64, dim*dim)
	for _, r := range rows {
		for i := 0; i < dim; i++ {
			ri := r[i]
			if ri == 0 {
				continue
			}
			row := c[i*dim : i*dim+i+1]
			for j := range row {
				row[j] += ri * r[j]
			}
		}
	}
	var trace float64
	for i := 0; i < dim; i++ {
		for j := 0; j <= i; j++ {
			c[i*dim+j] /= float64(len(rows))
			c[j*dim+i] = c[i*dim+j]
		}
		trace += c[i*dim+i]
	}
	ridge := 1e-6 * trace / float64(dim)
	for i := 0; i < dim; i++ {
		c[i*dim+i] += ridge
	}
	return c
}

// cholesky returns the lower-triangular L with L·Lᵀ = a.
func cholesky(a []float64, n int) ([]float64, error) {
	l := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			s := a[i*n+j]
			for k := 0; k < j; k++ {
				s -= l[i*n+k] * l[j*n+k]
			}
			if i == j {
				if s <= 0 {
					return nil, fmt.Errorf("not positive definite at %d", i)
				}
				l[i*n+i] = math.Sqrt(s)
			} else {
				l[i*n+j] = s / l[j*n+j]
			}
		}
	}
	return l, nil
}

// mulLower returns l·z for the lower-triangular l.
func mulLower(l []float64, n int, z []float64, out []float64) {
	for i := 0; i < n; i++ {
		var s float64
		row := l[i*n : i*n+i+1]
		for k, v := range row {
			s += v * z[k]
		}
		out[i] = s
	}
}

// Centre draws one identity centre (not normalised).
func (m *Model) Centre(r *rand.Rand) []float64 {
	z := make([]float64, m.Dim)
	for i := range z {
		z[i] = r.NormFloat64()
	}
	c := make([]float64, m.Dim)
	mulLower(m.between, m.Dim, z, c)
	for i := range c {
		c[i] = m.mean[i] + m.CentreScale*c[i]
	}
	return c
}

// Sample draws one unit embedding of the identity with the given centre into out.
func (m *Model) Sample(r *rand.Rand, centre []float64, out []float32) {
	z := make([]float64, m.Dim)
	for i := range z {
		z[i] = r.NormFloat64()
	}
	noise := make([]float64, m.Dim)
	mulLower(m.within, m.Dim, z, noise)
	scale := m.NoiseScale
	if m.PhotoSpread > 0 {
		scale *= math.Exp(m.PhotoSpread*r.NormFloat64() - m.PhotoSpread*m.PhotoSpread/2)
	}
	var ss float64
	for i := range noise {
		noise[i] = centre[i] + scale*noise[i]
		ss += noise[i] * noise[i]
	}
	inv := 1 / math.Sqrt(ss)
	for i := range out {
		out[i] = float32(noise[i] * inv)
	}
}

// Stats are the similarity statistics of generated pairs.
type Stats struct {
	GenuineMean, ImpostorMean, ImpostorStd float64
	GenuineP10, GenuineP90                 float64 // percentiles of the genuine similarity
}

// Measure draws pairs identities with two samples each and returns the pair statistics.
func (m *Model) Measure(seed uint64, pairs int) Stats {
	r := rand.New(rand.NewPCG(seed, 7))
	a := make([]float32, m.Dim)
	b := make([]float32, m.Dim)
	prev := make([]float32, m.Dim)
	var g, imp, imp2 float64
	gs := make([]float64, pairs)
	for i := 0; i < pairs; i++ {
		c := m.Centre(r)
		m.Sample(r, c, a)
		m.Sample(r, c, b)
		gs[i] = dot(a, b)
		g += gs[i]
		if i > 0 {
			s := dot(a, prev)
			imp += s
			imp2 += s * s
		}
		copy(prev, b)
	}
	n := float64(pairs - 1)
	mean := imp / n
	sort.Float64s(gs)
	return Stats{GenuineMean: g / float64(pairs), ImpostorMean: mean, ImpostorStd: math.Sqrt(max(0, imp2/n-mean*mean)),
		GenuineP10: gs[pairs/10], GenuineP90: gs[pairs*9/10]}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// GenuineMean is the mean similarity of real same-identity pairs (up to ten photos an
// identity), the level Calibrate sets synthetic mates to; 0 without a pair.
func GenuineMean(vs [][]float32, labels []string) float64 {
	groups := map[string][]int{}
	for i, l := range labels {
		if len(groups[l]) < 10 {
			groups[l] = append(groups[l], i)
		}
	}
	var sum float64
	var n int
	for _, g := range groups {
		for a := range g {
			for b := a + 1; b < len(g); b++ {
				sum += dot(vs[g[a]], vs[g[b]])
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Calibrate sets NoiseScale so genuine pairs score genuineMean on average. The impostor
// statistics are not parameters: the mean follows from the shared mean direction and the spread
// from the fitted spectrum's effective dimension (fitted to LFW: 0.017 ± 0.094, real LFW
// impostors: ≈ 0.01 ± 0.10), which is what makes the data face-shaped. The genuine mean is
// monotone in NoiseScale/CentreScale, so a bisection on a log scale finds it.
func (m *Model) Calibrate(genuineMean float64) Stats {
	const pairs = 600
	lo, hi := 1e-2, 1e2
	for it := 0; it < 30; it++ {
		m.NoiseScale = math.Sqrt(lo * hi)
		if m.Measure(1, pairs).GenuineMean > genuineMean {
			lo = m.NoiseScale
		} else {
			hi = m.NoiseScale
		}
	}
	return m.Measure(99, 4000)
}

// Identity sizes for clustering benchmarks. An ad collection is not a gallery of a few photos
// per person: most people appear once, a few post hundreds of ads. Sizes follows a discrete
// power law, P(s) ∝ s^-SizeExponent for s in 1..MaxIdentitySize (Zipf's law, as sizes of
// posters' collections and of photo-sharing accounts usually are): with exponent 2, 61 % of
// the identities have one face and 6 % more than ten, the mean size is 4.6 and 13 % of the
// faces are singletons, while the largest identities have hundreds of faces, the hard case for
// clustering (one chain of weak links merges two big people).
const (
	SizeExponent    = 2.0
	MaxIdentitySize = 1000
)

// Sizes draws identity sizes from the power law above until they add up to n (the last one is
// cut short). Deterministic for a seed.
func Sizes(n int, seed uint64) []int {
	cdf := make([]float64, MaxIdentitySize)
	var sum float64
	for s := 1; s <= MaxIdentitySize; s++ {
		sum += math.Pow(float64(s), -SizeExponent)
		cdf[s-1] = sum
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var sizes []int
	for total := 0; total < n; {
		s := sort.SearchFloat64s(cdf, r.Float64()*sum) + 1
		s = min(s, MaxIdentitySize, n-total)
		sizes = append(sizes, s)
		total += s
	}
	return sizes
}

// Generate fills out (sum(sizes)×Dim floats) with unit vectors, identity by identity: sizes[id]
// samples of identity id, in order, on workers goroutines. It returns each vector's identity.
// Identity id's centre comes from its own random stream (seed, id), so the result does not
// depend on workers, and SampleOf can draw more of the same person later.
func (m *Model) Generate(out []float32, sizes []int, seed uint64, workers int) []int32 {
	starts := make([]int, len(sizes)+1)
	for id, s := range sizes {
		starts[id+1] = starts[id] + s
	}
	if len(out) != starts[len(sizes)]*m.Dim {
		panic(fmt.Sprintf("synth: out has %d floats, want %d", len(out), starts[len(sizes)]*m.Dim))
	}
	labels := make([]int32, starts[len(sizes)])
	workers = max(workers, 1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := w; id < len(sizes); id += workers {
				r := rand.New(rand.NewPCG(seed, uint64(id)))
				c := m.Centre(r)
				for i := starts[id]; i < starts[id+1]; i++ {
					m.Sample(r, c, out[i*m.Dim:(i+1)*m.Dim])
					labels[i] = int32(id)
				}
			}
		}()
	}
	wg.Wait()
	return labels
}

// SampleOf draws a new unit vector of identity id of a set Generate made with seed (its j-th
// extra photo, from a stream of its own), or of a person not in the set when id is beyond it.
func (m *Model) SampleOf(seed uint64, id int, j uint64, out []float32) {
	c := m.Centre(rand.New(rand.NewPCG(seed, uint64(id))))
	m.Sample(rand.New(rand.NewPCG(seed^0xe7a5, uint64(id)<<24|j)), c, out)
}
