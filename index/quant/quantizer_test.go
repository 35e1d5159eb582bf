package quant

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func unitVector(r *rand.Rand, n int) []float32 {
	v := randomVector(r, n)
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(ss))
	}
	return v
}

func mustNew(t testing.TB, cfg Config) *Quantizer {
	t.Helper()
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestEstimatesAreClose checks every estimate against the exact dot product of unit vectors,
// with bounds a few times the errors measured on face-shaped vectors (notes: eval_test.go).
func TestEstimatesAreClose(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	for _, tc := range []struct {
		cfg Config
		tol float64
	}{
		{Config{Kind: Rotated8, Dim: 512, Seed: 1}, 0.01},
		{Config{Kind: Rotated8, Dim: 640, Seed: 2}, 0.01},
		{Config{Kind: Rotated8, Dim: 37, Seed: 3}, 0.03},
		{Config{Kind: Plain8, Dim: 512}, 0.01},
		{Config{Kind: Plain8, Dim: 3}, 0.03},
	} {
		q := mustNew(t, tc.cfg)
		vs := make([][]float32, 50)
		c := q.NewCodes(len(vs))
		for i := range vs {
			vs[i] = unitVector(r, tc.cfg.Dim)
			if err := c.Append(vs[i]); err != nil {
				t.Fatal(err)
			}
		}
		var qq Query
		for i := range 10 {
			query := unitVector(r, tc.cfg.Dim)
			if err := q.Prepare(&qq, query); err != nil {
				t.Fatal(err)
			}
			for j, v := range vs {
				exact := dot64(query, v)
				code, p := c.Code(j)
				for name, got := range map[string]float32{
					"int":   c.Similarity(&qq, j),
					"float": qq.SimilarityFloat(code, p),
				} {
					if math.Abs(float64(got)-exact) > tc.tol {
						t.Errorf("%v %s: query %d · vector %d ≈ %g, exact %g", tc.cfg, name, i, j, got, exact)
					}
				}
				if j > 0 {
					exact := dot64(vs[j-1], v)
					if got := c.SimilarityBetween(j-1, j); math.Abs(float64(got)-exact) > tc.tol {
						t.Errorf("%v symmetric: %d · %d ≈ %g, exact %g", tc.cfg, j-1, j, got, exact)
					}
				}
			}
		}
	}
}

// TestSymmetricIsTheReconstruction checks the code-to-code estimate against the dot product of
// the two reconstructed vectors, which it computes by algebra rather than by decoding.
func TestSymmetricIsTheReconstruction(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	q := mustNew(t, Config{Kind: Rotated8, Dim: 100, Seed: 9})
	c, err := q.EncodeAll(append(unitVector(r, 100), unitVector(r, 100)...))
	if err != nil {
		t.Fatal(err)
	}
	rec := func(i int) []float32 {
		code, p := c.Code(i)
		out := make([]float32, len(code))
		for j, x := range code {
			out[j] = p.Offset + p.Scale*float32(x)
		}
		return out
	}
	if got, want := float64(c.SimilarityBetween(0, 1)), dot64(rec(0), rec(1)); math.Abs(got-want) > 1e-5 {
		t.Errorf("symmetric estimate %g, reconstructions' dot product %g", got, want)
	}
}

// TestLSQLowersTheError checks the refit's premise on one vector: the refitted line is never
// further from the values than the min/max one.
func TestLSQLowersTheError(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	for range 20 {
		y := randomVector(r, 640)
		c1, c2 := make([]uint8, 640), make([]uint8, 640)
		p1, p2 := encode(c1, y, 255, ruleMinMax), encode(c2, y, 255, ruleLSQ)
		sse := func(c []uint8, p Params) (s float64) {
			for i, x := range y {
				d := float64(x) - float64(p.Offset+p.Scale*float32(c[i]))
				s += d * d
			}
			return s
		}
		if a, b := sse(c1, p1), sse(c2, p2); b > a*(1+1e-6) {
			t.Errorf("least squares error %g above min/max's %g", b, a)
		}
	}
}

func TestEdgeVectors(t *testing.T) {
	q := mustNew(t, Config{Kind: Rotated8, Dim: 8, Seed: 1})
	c := q.NewCodes(3)
	for _, v := range [][]float32{make([]float32, 8), {1, 1, 1, 1, 1, 1, 1, 1}, {1e-30, 0, 0, 0, 0, 0, 0, 0}} {
		if err := c.Append(v); err != nil {
			t.Fatal(err)
		}
	}
	var qq Query
	if err := q.Prepare(&qq, make([]float32, 8)); err != nil {
		t.Fatal(err)
	}
	for i := range c.Len() {
		if got := c.Similarity(&qq, i); got != 0 {
			t.Errorf("zero query · vector %d = %g", i, got)
		}
	}
	if err := q.Prepare(&qq, []float32{1, 1, 1, 1, 1, 1, 1, 1}); err != nil {
		t.Fatal(err)
	}
	if got := c.Similarity(&qq, 1); math.Abs(float64(got)-8) > 0.05 {
		t.Errorf("ones · ones ≈ %g, want 8", got)
	}
	if got := c.Similarity(&qq, 0); got != 0 {
		t.Errorf("ones · zero ≈ %g, want 0", got)
	}
}

func TestRefusals(t *testing.T) {
	q := mustNew(t, Config{Kind: Rotated8, Dim: 4, Seed: 1})
	var qq Query
	for _, tc := range []struct {
		v    []float32
		want error
	}{
		{[]float32{1, 2, 3}, ErrDimension},
		{[]float32{1, 2, 3, 4, 5}, ErrDimension},
		{[]float32{1, float32(math.NaN()), 3, 4}, ErrOutOfRange},
		{[]float32{1, float32(math.Inf(-1)), 3, 4}, ErrOutOfRange},
		{[]float32{1, 2, 3, -2 * MaxCoordinate}, ErrOutOfRange},
	} {
		if _, err := q.Encode(make([]uint8, 4), tc.v); !errors.Is(err, tc.want) {
			t.Errorf("Encode(%v): %v, want %v", tc.v, err, tc.want)
		}
		if err := q.Prepare(&qq, tc.v); !errors.Is(err, tc.want) {
			t.Errorf("Prepare(%v): %v, want %v", tc.v, err, tc.want)
		}
	}
	c := q.NewCodes(1)
	if err := c.Append([]float32{1, 2}); !errors.Is(err, ErrDimension) || c.Len() != 0 || c.Size() != 0 {
		t.Errorf("a refused Append: %v, and %d codes, %d bytes left", err, c.Len(), c.Size())
	}
	if _, err := q.EncodeAll(make([]float32, 6)); !errors.Is(err, ErrDimension) {
		t.Errorf("EncodeAll of a partial row: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		errs int // problems reported
	}{
		{Config{Kind: Rotated8, Dim: 512, Seed: 7}, 0},
		{Config{Kind: Plain8, Dim: 1}, 0},
		{Config{Kind: Rotated8, Dim: 0}, 1},
		{Config{Kind: 9, Dim: 512}, 1},
		{Config{Kind: Plain8, Dim: MaxDim + 1, Seed: 3}, 2},
		{Config{Dim: -1}, 2},
	} {
		err := tc.cfg.Validate()
		got := 0
		if err != nil {
			got = len(errors.Unwrap(err).(interface{ Unwrap() []error }).Unwrap())
		}
		if got != tc.errs {
			t.Errorf("%+v: %d problems (%v), want %d", tc.cfg, got, err, tc.errs)
		}
	}
}

// TestExtremeVectorsStayFinite encodes vectors at the edge of the accepted range: their codes
// must read back (ReadCodes bounds Params) and every estimate must be finite.
func TestExtremeVectorsStayFinite(t *testing.T) {
	for _, cfg := range []Config{{Kind: Rotated8, Dim: MaxDim, Seed: 1}, {Kind: Plain8, Dim: 700}} {
		q := mustNew(t, cfg)
		c := q.NewCodes(2)
		big, alt := make([]float32, cfg.Dim), make([]float32, cfg.Dim)
		for i := range big {
			big[i] = MaxCoordinate
			alt[i] = MaxCoordinate * float32(1-2*(i%2))
		}
		for _, v := range [][]float32{big, alt} {
			if err := c.Append(v); err != nil {
				t.Fatal(err)
			}
		}
		back, err := ReadCodes(bytes.NewReader(encoded(t, c)))
		if err != nil {
			t.Fatalf("%v: extreme codes do not read back: %v", cfg, err)
		}
		var qq Query
		for _, v := range [][]float32{big, alt} {
			q.Prepare(&qq, v)
			for i := range 2 {
				code, p := back.Code(i)
				for _, s := range []float32{qq.Similarity(code, p), qq.SimilarityFloat(code, p), back.SimilarityBetween(i, 1-i)} {
					if math.IsInf(float64(s), 0) || math.IsNaN(float64(s)) {
						t.Errorf("%v: estimate %g", cfg, s)
					}
				}
			}
		}
	}
}
