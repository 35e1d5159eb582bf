package neardup

import (
	"image"
	"testing"
)

// BenchmarkStored is a stored photo's hashing (whole, ten crops, mirror) at 12 megapixels:
// its share of an upload's time.
//
//	go test -run '^$' -bench Stored ./engine/neardup
func BenchmarkStored(b *testing.B) { benchmarkStored(b, 4000, 3000) }

// BenchmarkStoredSmall is the same at LFW's 250×250.
func BenchmarkStoredSmall(b *testing.B) { benchmarkStored(b, 250, 250) }

func benchmarkStored(b *testing.B, w, h int) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := Stored(img); err != nil {
			b.Fatal(err)
		}
	}
}
