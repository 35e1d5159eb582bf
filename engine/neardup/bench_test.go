package neardup

import (
	"image"
	"testing"
)

// BenchmarkStored is a stored photo's hashing (whole, ten crops, mirror) at 12 megapixels:
// its share of an upload's time.
//
//	go test -run '^$' -bench Stored ./engine/neardup
func BenchmarkStored(b *testing.B) {
	img := image.NewNRGBA(image.Rect(0, 0, 4000, 3000))
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

// BenchmarkStoredSmall is the same at LFW's 250×250.
func BenchmarkStoredSmall(b *testing.B) {
	img := image.NewNRGBA(image.Rect(0, 0, 250, 250))
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
