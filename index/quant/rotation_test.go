package quant

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"
)

func randomVector(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestRotationIsOrthogonal checks that rotating keeps dot products and norms and that Invert
// undoes Apply, at powers of two and between them.
func TestRotationIsOrthogonal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, dim := range []int{1, 2, 3, 5, 7, 8, 31, 64, 100, 127, 128, 129, 255, 384, 512, 513, 640, 1000, 1023, 1024, 1100} {
		rot, err := NewRotation(dim, uint64(dim)*7)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			x, y := randomVector(r, dim), randomVector(r, dim)
			rx, ry := make([]float32, dim), make([]float32, dim)
			rot.Apply(rx, x)
			rot.Apply(ry, y)
			scale := math.Sqrt(dot64(x, x) * dot64(y, y))
			tol := 1e-6 * scale * math.Log2(float64(dim)+1) * rotationRounds
			if got, want := dot64(rx, ry), dot64(x, y); math.Abs(got-want) > tol {
				t.Errorf("dim %d: <Rx,Ry> = %g, <x,y> = %g", dim, got, want)
			}
			if got, want := dot64(rx, rx), dot64(x, x); math.Abs(got-want) > 1e-6*want*math.Log2(float64(dim)+1)*rotationRounds {
				t.Errorf("dim %d: |Rx|² = %g, |x|² = %g", dim, got, want)
			}
			back := make([]float32, dim)
			rot.Invert(back, rx)
			for i := range x {
				if math.Abs(float64(back[i]-x[i])) > 1e-5 {
					t.Fatalf("dim %d: Invert(Apply(x))[%d] = %g, want %g", dim, i, back[i], x[i])
				}
			}
			rot.Apply(rx, rx) // in place must equal out of place
			rot.Apply(ry, x)
			rot.Apply(ry, ry)
			for i := range rx {
				if rx[i] != ry[i] {
					t.Fatalf("dim %d: in-place Apply differs at %d", dim, i)
				}
			}
		}
	}
}

// TestRotationSpreads checks the reason for rotating: a vector on one axis, the worst case for
// a per-vector scale, comes out with no coordinate far above the even share 1/√dim, wherever
// the axis lies relative to the overlapping windows.
func TestRotationSpreads(t *testing.T) {
	for _, dim := range []int{512, 640, 1000} {
		rot, _ := NewRotation(dim, 42)
		worst := 0.0
		for _, axis := range []int{0, 1, dim / 2, dim - 130, dim - 1} {
			e := make([]float32, dim)
			e[axis] = 1
			rot.Apply(e, e)
			for _, x := range e {
				worst = max(worst, math.Abs(float64(x))*math.Sqrt(float64(dim)))
			}
		}
		if worst > 5 {
			t.Errorf("dim %d: a rotated axis has a coordinate %.1f times the even share", dim, worst)
		}
	}
}

// TestRotationIsFixedBySeed pins the signs of a (dim, seed): codes on disk name only the seed,
// so a change here would silently misread every stored code.
func TestRotationIsFixedBySeed(t *testing.T) {
	rot, _ := NewRotation(640, 0x5eed)
	h := fnv.New64a()
	for _, m := range rot.mul {
		for _, x := range m {
			if x < 0 {
				h.Write([]byte{1})
			} else {
				h.Write([]byte{0})
			}
		}
	}
	if got, want := h.Sum64(), uint64(0x46b76969576c8a27); got != want {
		t.Errorf("signs of (640, 0x5eed) hash to %#x, want %#x", got, want)
	}
	// SplitMix64's published first output for seed 0.
	if got := (&splitmix64{}).next(); got != 0xe220a8397b1dcdaf {
		t.Errorf("splitmix64(0) = %#x, want 0xe220a8397b1dcdaf", got)
	}
	other, _ := NewRotation(640, 0x5eee)
	same := 0
	for i := range rot.mul[0] {
		if (rot.mul[0][i] < 0) == (other.mul[0][i] < 0) {
			same++
		}
	}
	if same < 250 || same > 390 {
		t.Errorf("seeds 0x5eed and 0x5eee share %d of 640 signs", same)
	}
}

func TestNewRotationRefusesBadDims(t *testing.T) {
	for _, dim := range []int{0, -1, MaxDim + 1} {
		if _, err := NewRotation(dim, 1); err == nil {
			t.Errorf("dimension %d accepted", dim)
		}
	}
}
