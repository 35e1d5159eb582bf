package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"runtime"
	"testing"
	"time"
)

// scanBomb is a small progressive JPEG whose frame claims w×h grey pixels and which carries n
// AC scans. Each scan makes Go's decoder walk every block of the frame, whatever the scan
// holds, and one end-of-band-run symbol (EOB14, given a 1-bit code here) covers 32767 blocks:
// that is how 16 KB hold 256 scans over 36 megapixels (2.2 s of CPU here before the cap).
func scanBomb(t testing.TB, w, h, n int) []byte { return progressiveJPEG(t, w, h, n, false) }

// progressiveJPEG is scanBomb's file, grey or YCbCr 4:2:0 (then each component gets n scans).
func progressiveJPEG(t testing.TB, w, h, n int, colour bool) []byte {
	t.Helper()
	small := encJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)))
	sof := bytes.Index(small, []byte{0xff, 0xc0})
	if sof < 0 {
		t.Fatal("no SOF0 in the encoded JPEG")
	}
	out := append([]byte{}, small[:sof]...) // SOI, APP0, DQT
	comps := []byte{1, 0x11, 0}
	if colour {
		comps = []byte{1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0}
	}
	nc := len(comps) / 3
	out = append(out, 0xff, 0xc2, 0, byte(8+3*nc), 8, byte(h>>8), byte(h), byte(w>>8), byte(w), byte(nc))
	out = append(out, comps...)
	// AC table 0: one symbol, 0xE0 (EOBRUN 14), coded "0".
	out = append(out, 0xff, 0xc4, 0, 20, 0x10, 1)
	out = append(out, make([]byte, 15)...)
	out = append(out, 0xe0)
	blocks := ((w + 7) / 8) * ((h + 7) / 8) // the largest component's; more runs than blocks are harmless
	var bits bitWriter
	for left := blocks; left > 0; left -= 32767 {
		bits.put(0, 1)       // EOB14
		bits.put(0x3fff, 14) // run 16384+16383 = 32767 blocks
	}
	data := bits.flush()
	for range n {
		for c := 1; c <= nc; c++ {
			out = append(out, 0xff, 0xda, 0, 8, 1, byte(c), 0x00, 1, 63, 0) // AC 1..63, first pass
			out = append(out, data...)
		}
	}
	return append(out, 0xff, 0xd9)
}

// bitWriter packs JPEG entropy-coded bits, stuffing 00 after every FF byte.
type bitWriter struct {
	out  []byte
	acc  uint32
	nacc uint
}

func (b *bitWriter) put(v uint32, n uint) {
	b.acc, b.nacc = b.acc<<n|v, b.nacc+n
	for b.nacc >= 8 {
		c := byte(b.acc >> (b.nacc - 8))
		b.out = append(b.out, c)
		if c == 0xff {
			b.out = append(b.out, 0)
		}
		b.nacc -= 8
		b.acc &= 1<<b.nacc - 1
	}
}

func (b *bitWriter) flush() []byte {
	if b.nacc > 0 {
		b.put(1<<(8-b.nacc)-1, 8-b.nacc) // pad with ones
	}
	return b.out
}

// TestScanBombRefusedQuickly: issue 12 measured 4.3 s of CPU for a 16 KB progressive JPEG of 256
// scans. The scan cap must refuse it from its markers, before any block is decoded.
func TestScanBombRefusedQuickly(t *testing.T) {
	data := scanBomb(t, 6000, 6000, 256)
	if len(data) > 16<<10 {
		t.Fatalf("bomb is %d bytes, want a small file", len(data))
	}
	start := time.Now()
	_, _, err := Image(data, Limits{})
	took := time.Since(start)
	if !errors.Is(err, ErrTooCostly) {
		t.Fatalf("err = %v after %v, want ErrTooCostly", err, took)
	}
	if want := "decode: jpeg has more than 100 scans (the limit)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if took > 100*time.Millisecond {
		t.Errorf("refusing took %v, want well under 100ms", took)
	}
}

// TestJPEGScans checks the marker walker against files whose scans are known, including
// markers it must not count: FF DA inside a comment, stuffed FF 00 and restart markers inside
// entropy-coded data, fill bytes and garbage between segments (which Go's decoder skips).
func TestJPEGScans(t *testing.T) {
	base := encJPEG(t, twoColour(64, 64))
	sos := bytes.Index(base, []byte{0xff, 0xda})
	emptyScan := []byte{0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0}
	with := func(parts ...[]byte) []byte {
		out := append([]byte{}, base[:sos]...)
		for _, p := range parts {
			out = append(out, p...)
		}
		return append(out, base[sos:]...)
	}
	comment := []byte{0xff, 0xfe, 0, 6, 0xff, 0xda, 0xff, 0xda}
	entropy := append(append([]byte{}, emptyScan...), 0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56)
	tests := []struct {
		name        string
		data        []byte
		scans       int
		progressive bool
	}{
		{"baseline", base, 1, false},
		{"comment holding FF DA", with(comment), 1, false},
		{"three empty scans", with(emptyScan, emptyScan, emptyScan), 4, false},
		{"stuffed bytes and RST in entropy data", with(entropy, entropy), 3, false},
		{"fill bytes", with([]byte{0xff, 0xff, 0xff}, emptyScan), 2, false},
		{"garbage between segments", with([]byte{0x00, 0x01, 0x02}, emptyScan), 2, false},
		{"progressive bomb", scanBomb(t, 64, 64, 7), 7, true},
		{"scan header cut short", base[:sos+3], 0, false}, // the decoder fails before the scan
		{"header only", base[:sos], 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jpegStructure(tt.data, 1000)
			if got.scans != tt.scans || got.progressive != tt.progressive {
				t.Errorf("scans %d progressive %v, want %d %v", got.scans, got.progressive, tt.scans, tt.progressive)
			}
			if allocs := testing.AllocsPerRun(10, func() { jpegStructure(tt.data, 1000) }); allocs != 0 {
				t.Errorf("%v allocations, want none", allocs)
			}
		})
	}
	if got := jpegStructure(with(emptyScan, emptyScan, emptyScan), 2); got.scans != 3 {
		t.Errorf("with limit 2 the walker counted %d scans, want it to stop at 3", got.scans)
	}
}

// TestHeaderCost: the estimated peak bytes grow with the pixels and with what the decoder keeps
// (a progressive JPEG's coefficients, 16-bit samples).
func TestHeaderCost(t *testing.T) {
	small := encPNG(t, twoColour(64, 64))
	deep := encPNG(t, image.NewNRGBA64(image.Rect(0, 0, 64, 64)))
	grey := encPNG(t, image.NewGray(image.Rect(0, 0, 64, 64)))
	base := encJPEG(t, twoColour(64, 64))
	prog := scanBomb(t, 64, 64, 3)
	cost := func(data []byte) int64 {
		h, err := Inspect(data, Limits{})
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if h.Width != 64 || h.Height != 64 {
			t.Fatalf("header %+v", h)
		}
		return h.PeakBytes()
	}
	px := int64(64 * 64)
	for name, c := range map[string]int64{"png": cost(small), "png16": cost(deep), "grey png": cost(grey), "jpeg": cost(base), "progressive jpeg": cost(prog)} {
		if c < 4*px || c > 32*px {
			t.Errorf("%s: %d bytes for %d pixels, want 4–32 bytes a pixel", name, c, px)
		}
	}
	if cost(deep) <= cost(small) || cost(prog) <= cost(base) {
		t.Errorf("deep png %d ≤ png %d or progressive jpeg %d ≤ baseline %d", cost(deep), cost(small), cost(prog), cost(base))
	}
	if _, err := Inspect([]byte("not an image"), Limits{}); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("Inspect(text) = %v", err)
	}
}

// BenchmarkPeakBytes measures what decoding costs in memory per pixel, for the factors behind
// Header.PeakBytes: alloc-B/px is every byte Image allocated (an upper bound of what it holds
// at once, since its buffers are large and live to the end), est-B/px what PeakBytes says.
//
//	go test -run '^$' -bench PeakBytes -benchtime 3x ./models/decode/
func BenchmarkPeakBytes(b *testing.B) {
	const w, h = 3000, 2000
	grad := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range grad.Pix {
		grad.Pix[i] = byte(i * 7 / 3)
	}
	grey := image.NewGray(grad.Rect)
	copy(grey.Pix, grad.Pix)
	deep := image.NewNRGBA64(grad.Rect)
	copy(deep.Pix, grad.Pix)
	cases := []struct {
		name string
		data []byte
	}{
		{"jpeg-420", encJPEG(b, grad)},
		{"jpeg-grey", encJPEG(b, grey)},
		{"jpeg-420-orient6", withEXIF(encJPEG(b, grad), binary.LittleEndian, 6)},
		{"jpeg-progressive-420", progressiveJPEG(b, w, h, 10, true)},
		{"jpeg-progressive-grey", progressiveJPEG(b, w, h, 10, false)},
		{"png-rgba", encPNG(b, grad)},
		{"png-grey", encPNG(b, grey)},
		{"png-16bit", encPNG(b, deep)},
		{"gif", encGIF(b, grey)},
		{"bmp", encBMP(b, grad)},
		{"tiff", encTIFF(b, grad)},
		{"tiff-16bit", encTIFF(b, deep)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			lim := Limits{MaxBytes: 1 << 30}
			hd, err := Inspect(c.data, lim)
			if err != nil {
				b.Fatal(err)
			}
			px := float64(hd.Width * hd.Height)
			var before, after runtime.MemStats
			var total uint64
			for b.Loop() {
				runtime.GC()
				runtime.ReadMemStats(&before)
				if _, _, err := Image(c.data, lim); err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				total += after.TotalAlloc - before.TotalAlloc
			}
			b.ReportMetric(float64(total)/float64(b.N)/px, "alloc-B/px")
			b.ReportMetric(float64(hd.PeakBytes())/px, "est-B/px")
		})
	}
}
