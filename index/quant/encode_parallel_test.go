package quant

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// Encoding in parallel gives the codes EncodeAll gives, byte for byte, whatever the number of
// workers and however the vectors fall into chunks.
func TestEncodeAllParallel(t *testing.T) {
	const dim = 40
	q, err := New(Config{Kind: Rotated8, Dim: dim, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, encodeChunk - 1, encodeChunk, 2*encodeChunk + 5} {
		vectors := make([]float32, n*dim)
		for i := range vectors {
			vectors[i] = float32(r.NormFloat64())
		}
		want, err := q.EncodeAll(vectors)
		if err != nil {
			t.Fatal(err)
		}
		var wantBytes bytes.Buffer
		if _, err := want.WriteTo(&wantBytes); err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{0, 1, 2, 7} {
			got, err := q.EncodeAllParallel(context.Background(), vectors, workers)
			if err != nil {
				t.Fatalf("n %d, workers %d: %v", n, workers, err)
			}
			var gotBytes bytes.Buffer
			if _, err := got.WriteTo(&gotBytes); err != nil {
				t.Fatal(err)
			}
			if got.Len() != n || !bytes.Equal(gotBytes.Bytes(), wantBytes.Bytes()) {
				t.Errorf("n %d, workers %d: %d codes, differ from EncodeAll's", n, workers, got.Len())
			}
		}
	}
}

func TestEncodeAllParallelErrors(t *testing.T) {
	q, err := New(Config{Kind: Rotated8, Dim: 4, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.EncodeAllParallel(context.Background(), make([]float32, 6), 2); !errors.Is(err, ErrDimension) {
		t.Errorf("ragged: %v, want ErrDimension", err)
	}
	bad := make([]float32, 4*3000)
	for i := range bad {
		bad[i] = 1
	}
	bad[4*2500+1] = float32(math.NaN())
	if _, err := q.EncodeAllParallel(context.Background(), bad, 2); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("a NaN coordinate: %v, want ErrOutOfRange", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.EncodeAllParallel(ctx, make([]float32, 4*10), 2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
