package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/tiff"
)

// FuzzImage feeds mutated images of every format to Image. Whatever the
// bytes, Image must not panic, must return an *Error of a known kind on
// failure, and on success an opaque image at the origin whose size matches
// Info. MaxPixels is small so the fuzzer spends its time on structure, not
// on decoding large frames.
//
//	go test -run='^$' -fuzz=FuzzImage -fuzztime=60s ./models/decode/
func FuzzImage(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	lim := Limits{MaxPixels: 1 << 20}
	kinds := []error{ErrEmpty, ErrTooLarge, ErrTooManyPixels, ErrUnsupportedFormat, ErrTruncated, ErrCorrupt, ErrTooCostly}

	f.Fuzz(func(t *testing.T, data []byte) {
		m, info, err := Image(data, lim)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error is %T, want *Error: %v", err, err)
			}
			known := false
			for _, k := range kinds {
				known = known || de.Kind == k
			}
			if !known {
				t.Fatalf("unknown kind %v in %v", de.Kind, err)
			}
			if m != nil || info != (Info{}) {
				t.Fatalf("non-zero results with error %v", err)
			}
			return
		}
		checkOpaque(t, m, info)
		if format, _ := Sniff(data); format != info.Format {
			t.Fatalf("Info.Format = %q, Sniff says %q", info.Format, format)
		}
		if info.Bytes != len(data) || info.Orientation < 1 || info.Orientation > 8 {
			t.Fatalf("bad info %+v for %d bytes", info, len(data))
		}
		if int64(info.Width)*int64(info.Height) > lim.MaxPixels {
			t.Fatalf("%dx%d exceeds MaxPixels %d", info.Width, info.Height, lim.MaxPixels)
		}
	})
}

// fuzzSeeds returns one small valid image per format and colour model we
// handle, plus the committed testdata files (CMYK JPEG, WebPs, TIFF with
// orientation), so the fuzzer starts inside every decoder.
func fuzzSeeds(tb testing.TB) [][]byte {
	small := twoColour(16, 8)
	gray := image.NewGray(image.Rect(0, 0, 8, 8))
	deep := image.NewNRGBA64(image.Rect(0, 0, 4, 4))
	trans := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	trans.SetNRGBA(1, 1, color.NRGBA{10, 20, 30, 40})
	pal := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Transparent, red, blue})
	pal.Pix[3] = 2

	var plainTIFF bytes.Buffer
	if err := tiff.Encode(&plainTIFF, small, nil); err != nil {
		tb.Fatal(err)
	}

	seeds := [][]byte{
		encJPEG(tb, small),
		encJPEG(tb, gray),
		withEXIF(encJPEG(tb, small), binary.LittleEndian, 6),
		withEXIF(encJPEG(tb, small), binary.BigEndian, 7),
		encPNG(tb, small),
		encPNG(tb, gray),
		encPNG(tb, deep),
		encPNG(tb, trans),
		encPNG(tb, pal),
		pngHeader(100000, 100000),
		encGIF(tb, small),
		animatedGIF(tb),
		encBMP(tb, small),
		encBMP(tb, pal),
		encBMP(tb, trans),
		encTIFF(tb, small),
		encTIFF(tb, gray),
		plainTIFF.Bytes(),
	}
	files, err := filepath.Glob("testdata/*.*")
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzJPEGStructure feeds mutated JPEGs to the marker walker that enforces the scan cap. It
// must not panic, must stop once it has counted more than its limit, and may count only SOS
// markers that are really there (each is the byte pair FF DA).
//
//	go test -run='^$' -fuzz=FuzzJPEGStructure -fuzztime=30s ./models/decode/
func FuzzJPEGStructure(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		if format, _ := Sniff(seed); format == JPEG {
			f.Add(seed, 3)
		}
	}
	f.Add(scanBomb(f, 640, 480, 12), 10)
	f.Add(scanBomb(f, 64, 64, 2), 100)
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		if len(data) < 2 || limit < 0 || limit > 1000 {
			return
		}
		l := jpegStructure(data, limit)
		if l.scans > limit+1 {
			t.Fatalf("counted %d scans with limit %d", l.scans, limit)
		}
		if n := bytes.Count(data[2:], []byte{0xff, 0xda}); l.scans > n {
			t.Fatalf("counted %d scans, but the data holds only %d SOS markers", l.scans, n)
		}
		if l.samples < 0 || l.samples > 16*255 {
			t.Fatalf("samples %d", l.samples)
		}
	})
}
