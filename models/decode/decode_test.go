package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestImageFormats(t *testing.T) {
	// testdata holds what Go cannot encode, made once with ImageMagick 6.9
	// (apt-get install imagemagick) and committed, each under 400 bytes:
	//
	//	convert -size 16x8 xc:red -size 16x8 xc:blue -append -colorspace CMYK -quality 95 -strip cmyk.jpg
	//	convert -size 16x8 xc:red -size 16x8 xc:blue -append -define webp:lossless=true -strip lossless.webp
	//	convert -size 16x8 xc:red -size 16x8 xc:blue -append -quality 90 -strip lossy.webp
	//	convert -size 16x16 'xc:rgba(0,128,0,0.5)' -quality 90 -strip alpha.webp
	//	convert -size 8x8 xc:red -size 8x8 xc:blue +append -compress zip -orient RightTop -strip orient6.tiff
	//
	// cmyk.jpg is a 4-component JPEG with an Adobe APP14 marker, top half
	// red, bottom half blue. alpha.webp is VP8X+ALPH+VP8 (decodes to
	// image.NYCbCrA). orient6.tiff carries Orientation=6 in IFD0.
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	gray := image.NewGray(image.Rect(0, 0, 16, 8))
	for i := range gray.Pix {
		gray.Pix[i] = 77
	}

	deep := image.NewNRGBA64(image.Rect(0, 0, 4, 4))
	for y := range 4 {
		for x := range 4 {
			deep.SetNRGBA64(x, y, color.NRGBA64{0x1234, 0xabcd, 0xfe00, 0xffff})
		}
	}

	// Straight colour under alpha 0 and 128 must survive; only alpha changes.
	trans := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	trans.SetNRGBA(0, 0, color.NRGBA{10, 200, 30, 0})
	trans.SetNRGBA(1, 0, color.NRGBA{200, 10, 30, 128})

	// Premultiplied input (a TIFF with associated alpha decodes to *image.RGBA).
	premul := image.NewRGBA(image.Rect(0, 0, 2, 1))
	premul.SetRGBA(0, 0, color.RGBA{100, 50, 0, 128})
	premul.SetRGBA(1, 0, color.RGBA{7, 8, 9, 255})

	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.NRGBA{50, 60, 70, 0}, color.NRGBA{0, 128, 0, 128}})
	pal.Pix[1] = 1

	deepTrans := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
	deepTrans.SetNRGBA64(0, 0, color.NRGBA64{0x1234, 0xabcd, 0xfe00, 0x8000})

	// First GIF frame covering only the middle of an 8×8 logical screen.
	offset := image.NewPaletted(image.Rect(2, 2, 6, 6), color.Palette{color.Black, blue})
	for i := range offset.Pix {
		offset.Pix[i] = 1
	}
	var offsetGIF bytes.Buffer
	if err := gif.EncodeAll(&offsetGIF, &gif.GIF{Image: []*image.Paletted{offset}, Delay: []int{0},
		Config: image.Config{ColorModel: offset.Palette, Width: 8, Height: 8}}); err != nil {
		t.Fatal(err)
	}

	at := func(m *image.NRGBA, x, y int) color.NRGBA { return m.NRGBAAt(x, y) }
	leftRedRightBlue := func(tol int) func(*testing.T, *image.NRGBA) {
		return func(t *testing.T, m *image.NRGBA) {
			w, h := m.Rect.Dx(), m.Rect.Dy()
			if c := at(m, 1, h/2); !near(c, red, tol) {
				t.Errorf("left = %v, want red", c)
			}
			if c := at(m, w-2, h/2); !near(c, blue, tol) {
				t.Errorf("right = %v, want blue", c)
			}
		}
	}
	exact := func(want ...color.NRGBA) func(*testing.T, *image.NRGBA) {
		return func(t *testing.T, m *image.NRGBA) {
			for i, w := range want {
				if c := at(m, i, 0); c != w {
					t.Errorf("pixel %d = %v, want %v", i, c, w)
				}
			}
		}
	}

	tests := []struct {
		name        string
		data        []byte
		format      string
		w, h        int
		orientation int
		check       func(*testing.T, *image.NRGBA)
	}{
		{"jpeg rgb", encJPEG(t, twoColour(32, 16)), JPEG, 32, 16, 1, leftRedRightBlue(8)},
		{"jpeg gray", encJPEG(t, gray), JPEG, 16, 8, 1, func(t *testing.T, m *image.NRGBA) {
			if c := at(m, 3, 3); !near(c, color.NRGBA{77, 77, 77, 255}, 1) {
				t.Errorf("gray = %v", c)
			}
		}},
		{"jpeg cmyk (testdata)", read("cmyk.jpg"), JPEG, 16, 16, 1, func(t *testing.T, m *image.NRGBA) {
			if c := at(m, 8, 2); !near(c, red, 40) {
				t.Errorf("top = %v, want red", c)
			}
			if c := at(m, 8, 13); !near(c, blue, 40) {
				t.Errorf("bottom = %v, want blue", c)
			}
		}},
		{"png rgb", encPNG(t, twoColour(32, 16)), PNG, 32, 16, 1, leftRedRightBlue(0)},
		{"png gray", encPNG(t, gray), PNG, 16, 8, 1, exact(color.NRGBA{77, 77, 77, 255})},
		{"png 16-bit", encPNG(t, deep), PNG, 4, 4, 1, exact(color.NRGBA{0x12, 0xab, 0xfe, 255})},
		{"png transparent keeps straight colour", encPNG(t, trans), PNG, 2, 1, 1,
			exact(color.NRGBA{10, 200, 30, 255}, color.NRGBA{200, 10, 30, 255})},
		{"png paletted with transparency", encPNG(t, pal), PNG, 2, 1, 1,
			exact(color.NRGBA{50, 60, 70, 255}, color.NRGBA{0, 128, 0, 255})},
		{"png 16-bit transparent keeps straight colour", encPNG(t, deepTrans), PNG, 1, 1, 1,
			exact(color.NRGBA{0x12, 0xab, 0xfe, 255})},
		{"gif", encGIF(t, twoColour(32, 16)), GIF, 32, 16, 1, leftRedRightBlue(0)},
		{"gif animated: first frame only", animatedGIF(t), GIF, 8, 8, 1, func(t *testing.T, m *image.NRGBA) {
			if c := at(m, 4, 4); c != red {
				t.Errorf("pixel = %v, want red from frame 1", c)
			}
		}},
		{"gif frame smaller than screen", offsetGIF.Bytes(), GIF, 8, 8, 1, func(t *testing.T, m *image.NRGBA) {
			if c := at(m, 0, 0); c != (color.NRGBA{0, 0, 0, 255}) {
				t.Errorf("outside frame = %v, want opaque black", c)
			}
			if c := at(m, 3, 3); c != blue {
				t.Errorf("inside frame = %v, want blue", c)
			}
		}},
		{"webp lossless (testdata)", read("lossless.webp"), WebP, 16, 16, 1, func(t *testing.T, m *image.NRGBA) {
			if c := at(m, 8, 2); c != red {
				t.Errorf("top = %v, want red", c)
			}
			if c := at(m, 8, 13); c != blue {
				t.Errorf("bottom = %v, want blue", c)
			}
		}},
		{"webp lossy (testdata)", read("lossy.webp"), WebP, 16, 16, 1, func(t *testing.T, m *image.NRGBA) {
			if c := at(m, 8, 2); !near(c, red, 40) {
				t.Errorf("top = %v, want red", c)
			}
			if c := at(m, 8, 13); !near(c, blue, 40) {
				t.Errorf("bottom = %v, want blue", c)
			}
		}},
		{"webp with alpha keeps straight colour (testdata)", read("alpha.webp"), WebP, 16, 16, 1, func(t *testing.T, m *image.NRGBA) {
			// Premultiplied colour would be about {0 64 0}; lossy VP8
			// chroma drifts by ~15.
			if c := at(m, 8, 8); !near(c, color.NRGBA{0, 128, 0, 255}, 20) {
				t.Errorf("pixel = %v, want straight green {0 128 0 255}", c)
			}
		}},
		{"bmp", encBMP(t, twoColour(32, 16)), BMP, 32, 16, 1, leftRedRightBlue(0)},
		{"tiff", encTIFF(t, twoColour(32, 16)), TIFF, 32, 16, 1, leftRedRightBlue(0)},
		{"tiff orientation 6 (testdata)", read("orient6.tiff"), TIFF, 8, 16, 6, func(t *testing.T, m *image.NRGBA) {
			// Stored 16×8, left red, right blue; upright the red half is on top.
			if c := at(m, 4, 2); c != red {
				t.Errorf("top = %v, want red", c)
			}
			if c := at(m, 4, 13); c != blue {
				t.Errorf("bottom = %v, want blue", c)
			}
		}},
		{"tiff premultiplied alpha", encTIFF(t, premul), TIFF, 2, 1, 1, func(t *testing.T, m *image.NRGBA) {
			// 100*255/128 = 199, 50*255/128 = 99.
			if c := at(m, 0, 0); !near(c, color.NRGBA{199, 99, 0, 255}, 1) {
				t.Errorf("pixel 0 = %v, want straight {199 99 0 255}", c)
			}
			if c := at(m, 1, 0); c != (color.NRGBA{7, 8, 9, 255}) {
				t.Errorf("pixel 1 = %v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, info, err := Image(tt.data, Limits{})
			if err != nil {
				t.Fatalf("Image: %v", err)
			}
			checkOpaque(t, m, info)
			want := Info{Format: tt.format, Width: tt.w, Height: tt.h, Orientation: tt.orientation, Bytes: len(tt.data)}
			if info != want {
				t.Errorf("info = %+v, want %+v", info, want)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestImageErrors(t *testing.T) {
	jpg := encJPEG(t, twoColour(64, 64))
	pngData := encPNG(t, twoColour(64, 64))

	// A JPEG whose SOF claims 65535×65535: patch the size in place.
	jpegBomb := append([]byte{}, jpg...)
	if i := bytes.Index(jpegBomb, []byte{0xff, 0xc0}); i < 0 {
		t.Fatal("no SOF0 in encoded JPEG")
	} else {
		copy(jpegBomb[i+5:], []byte{0xff, 0xff, 0xff, 0xff})
	}

	// 300 empty scans in front of the real one.
	sos := bytes.Index(jpg, []byte{0xff, 0xda})
	manyScans := append([]byte{}, jpg[:sos]...)
	for range 300 {
		manyScans = append(manyScans, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0)
	}
	manyScans = append(manyScans, jpg[sos:]...)

	badCRC := pngHeader(10, 10)
	copy(badCRC[29:33], "\x00\x00\x00\x00")

	badSelector := append([]byte{}, jpg...)
	badSelector[bytes.Index(badSelector, []byte{0xff, 0xda})+5] = 9

	rle := encBMP(t, twoColour(8, 8))
	binary.LittleEndian.PutUint32(rle[30:], 1) // BI_RLE8

	random := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(random)

	tests := []struct {
		name string
		data []byte
		lim  Limits
		kind error
		msg  string // the exact Error() text, or a prefix ending in "…"
	}{
		{"nil", nil, Limits{}, ErrEmpty, "decode: empty image data"},
		{"empty", []byte{}, Limits{}, ErrEmpty, "decode: empty image data"},
		{"over MaxBytes", pngData, Limits{MaxBytes: 100}, ErrTooLarge,
			"decode: image data is " + strconv.Itoa(len(pngData)) + " bytes, limit is 100 bytes"},
		{"text named .jpg", []byte("hello, this is not a photo\n"), Limits{}, ErrUnsupportedFormat,
			"decode: not an image: looks like text"},
		{"text starting BM", []byte("BMW for sale, low mileage, call now"), Limits{}, ErrUnsupportedFormat,
			"decode: not an image: looks like text"},
		{"html", []byte("\n<!DOCTYPE html><html><body>404</body></html>"), Limits{}, ErrUnsupportedFormat,
			"decode: not an image: looks like HTML"},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), Limits{}, ErrUnsupportedFormat,
			"decode: not an image: looks like a PDF document"},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), Limits{}, ErrUnsupportedFormat,
			"decode: unsupported format: looks like a HEIC/HEIF image"},
		{"svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), Limits{}, ErrUnsupportedFormat,
			"decode: unsupported format: looks like an SVG vector image"},
		{"random bytes", random, Limits{}, ErrUnsupportedFormat, "decode: not an image: unknown binary data"},
		{"jpeg signature only", []byte{0xff, 0xd8}, Limits{}, ErrUnsupportedFormat,
			"decode: not an image: starts like an image signature but is cut short or malformed"},
		{"truncated jpeg", jpg[:len(jpg)/2], Limits{}, ErrTruncated, "decode: truncated jpeg: unexpected EOF"},
		{"truncated png", pngData[:len(pngData)/2], Limits{}, ErrTruncated,
			"decode: truncated png (no IEND chunk): png: invalid format: not enough pixel data"},
		{"truncated gif", animatedGIF(t)[:40], Limits{}, ErrTruncated, "decode: truncated gif: …"},
		{"truncated jpeg header", jpg[:20], Limits{}, ErrTruncated, "decode: truncated jpeg: unexpected EOF"},
		{"png bomb 100000×100000", pngHeader(100000, 100000), Limits{}, ErrTooManyPixels,
			"decode: png image is 100000×100000 = 10000 megapixels, limit is 40 megapixels"},
		{"jpeg bomb 65535×65535", jpegBomb, Limits{}, ErrTooManyPixels,
			"decode: jpeg image is 65535×65535 = 4294.836225 megapixels, limit is 40 megapixels"},
		{"custom MaxPixels", pngData, Limits{MaxPixels: 1000}, ErrTooManyPixels,
			"decode: png image is 64×64 = 0.004096 megapixels, limit is 0.001 megapixels"},
		{"png zero width", pngHeader(0, 10), Limits{}, ErrCorrupt, "decode: corrupt png header: …"},
		{"png bad crc", badCRC, Limits{}, ErrCorrupt, "decode: corrupt png header: png: invalid format: invalid checksum"},
		{"jpeg bad component selector", badSelector, Limits{}, ErrCorrupt,
			"decode: corrupt jpeg data: invalid JPEG format: unknown component selector"},
		{"jpeg missing its tail", jpg[:len(jpg)-10], Limits{}, ErrTruncated,
			"decode: truncated jpeg (no end-of-image marker): …"},
		{"png missing its tail", pngData[:len(pngData)-20], Limits{}, ErrTruncated, "decode: truncated png…"},
		{"jpeg too many scans", manyScans, Limits{}, ErrTooCostly, "decode: jpeg has more than 100 scans (the limit)"},
		{"bmp rle", rle, Limits{}, ErrUnsupportedFormat, "decode: unsupported bmp variant: bmp: unsupported BMP image"},
		{"webp riff without chunks", []byte("RIFF\x04\x00\x00\x00WEBP"), Limits{}, ErrCorrupt,
			"decode: corrupt webp header: webp: invalid format"},
		{"webp cut short", []byte("RIFF\xff\x00\x00\x00WEBPVP8 \x40\x00\x00\x00"), Limits{}, ErrTruncated, "decode: truncated webp…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, info, err := Image(tt.data, tt.lim)
			if err == nil {
				t.Fatalf("Image succeeded (%+v), want %v", info, tt.kind)
			}
			if m != nil || info != (Info{}) {
				t.Errorf("non-zero results with an error: %v, %+v", m != nil, info)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("err = %v, want kind %v", err, tt.kind)
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err is %T, want *Error", err)
			}
			if prefix, ok := strings.CutSuffix(tt.msg, "…"); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("message %q, want prefix %q", err.Error(), prefix)
				}
			} else if err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err.Error(), tt.msg)
			}
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	jpg := encJPEG(t, twoColour(16, 16))
	_, _, err := Image(jpg[:len(jpg)/2], Limits{})
	if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v: want both ErrTruncated and io.ErrUnexpectedEOF in the chain", err)
	}
	var de *Error
	if !errors.As(err, &de) || de.Format != JPEG || de.Kind != ErrTruncated {
		t.Fatalf("err = %#v", err)
	}
	for _, kind := range []error{ErrEmpty, ErrTooLarge, ErrTooManyPixels, ErrUnsupportedFormat, ErrCorrupt} {
		if errors.Is(err, kind) {
			t.Errorf("a truncation also matches %v", kind)
		}
	}
	if got := (&Error{Kind: ErrCorrupt}).Error(); got != "decode: corrupt image" {
		t.Errorf("Error() without Msg = %q", got)
	}
}

// TestPNGBombAllocation checks the decompression-bomb guard does what it is
// for: a 45-byte PNG claiming 10 gigapixels is refused after reading its
// header, allocating kilobytes, not the 30 GB its pixels would need.
func TestPNGBombAllocation(t *testing.T) {
	bomb := pngHeader(100000, 100000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := Image(bomb, Limits{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("err = %v, want ErrTooManyPixels", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes, want < 1 MiB", n)
	}
	allocs := testing.AllocsPerRun(20, func() { _, _, _ = Image(bomb, Limits{}) })
	if allocs > 50 {
		t.Errorf("%v allocations per refusal, want a handful", allocs)
	}
}

// source maps a display pixel (x, y) of the oriented image back to the
// stored pixel of a w×h image, written out from the EXIF 2.3 table
// independently of the imaging calls under test.
func source(o, x, y, w, h int) (int, int) {
	switch o {
	case 2:
		return w - 1 - x, y
	case 3:
		return w - 1 - x, h - 1 - y
	case 4:
		return x, h - 1 - y
	case 5:
		return y, x
	case 6:
		return y, h - 1 - x
	case 7:
		return w - 1 - y, h - 1 - x
	case 8:
		return w - 1 - y, x
	}
	return x, y
}

func TestEXIFOrientation(t *testing.T) {
	const w, h = 32, 16
	plain := encJPEG(t, twoColour(w, h))
	base, _, err := Image(plain, Limits{})
	if err != nil {
		t.Fatal(err)
	}

	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		for o := 1; o <= 8; o++ {
			t.Run(bo.String()+"/"+strconv.Itoa(o), func(t *testing.T) {
				m, info, err := Image(withEXIF(plain, bo, uint16(o)), Limits{})
				if err != nil {
					t.Fatal(err)
				}
				checkOpaque(t, m, info)
				ww, wh := w, h
				if o >= 5 {
					ww, wh = h, w
				}
				if info.Orientation != o || info.Width != ww || info.Height != wh {
					t.Fatalf("info = %+v, want orientation %d and %dx%d", info, o, ww, wh)
				}
				for y := range wh {
					for x := range ww {
						sx, sy := source(o, x, y, w, h)
						if got, want := m.NRGBAAt(x, y), base.NRGBAAt(sx, sy); got != want {
							t.Fatalf("(%d,%d) = %v, want stored (%d,%d) = %v", x, y, got, sx, sy, want)
						}
					}
				}
			})
		}
	}

	// The direction, spelled out: a phone held upright stores the photo
	// rotated and writes 6 ("rotate 90° clockwise to view"). The stored
	// left (red) half must end up on top.
	m, _, err := Image(withEXIF(plain, binary.BigEndian, 6), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if top, bottom := m.NRGBAAt(h/2, 2), m.NRGBAAt(h/2, w-3); !near(top, red, 8) || !near(bottom, blue, 8) {
		t.Errorf("orientation 6: top %v bottom %v, want red on top and blue below", top, bottom)
	}
	m, _, err = Image(withEXIF(plain, binary.BigEndian, 8), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if top, bottom := m.NRGBAAt(h/2, 2), m.NRGBAAt(h/2, w-3); !near(top, blue, 8) || !near(bottom, red, 8) {
		t.Errorf("orientation 8: top %v bottom %v, want blue on top and red below", top, bottom)
	}
}

func TestTIFFOrientation(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	good := exifBlock(be, 6)
	patch := func(b []byte, off int, v ...byte) []byte {
		b = append([]byte{}, b...)
		copy(b[off:], v)
		return b
	}
	// Entry layout in exifBlock: IFD at 8, count at 8..10, entry at 10..22
	// (tag 10, type 12, count 14, value 18).
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"little endian", exifBlock(le, 3), 3},
		{"big endian", good, 6},
		{"LONG type", func() []byte {
			b := patch(good, 12, 0, 4)
			return patch(b, 18, 0, 0, 0, 8)
		}(), 8},
		{"empty", nil, 1},
		{"short header", good[:7], 1},
		{"not tiff", patch(good, 0, 'X', 'X'), 1},
		{"ifd offset past end", patch(good, 4, 0xff, 0xff, 0xff, 0xff), 1},
		{"ifd offset inside header", patch(good, 4, 0, 0, 0, 2), 1},
		{"entry cut short", good[:20], 1},
		{"huge entry count", patch(good, 8, 0xff, 0xff), 6}, // the one real entry is still read
		{"huge entry count, no tag", patch(patch(good, 8, 0xff, 0xff), 10, 0, 1), 1},
		{"value 0", patch(good, 18, 0, 0), 1},
		{"value 9", patch(good, 18, 0, 9), 1},
		{"count 2", patch(good, 14, 0, 0, 0, 2), 1},
		{"ASCII type", patch(good, 12, 0, 2), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tiffOrientation(tt.data); got != tt.want {
				t.Errorf("tiffOrientation = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestJPEGOrientation(t *testing.T) {
	jpg := encJPEG(t, twoColour(16, 16))
	exif := append([]byte("Exif\x00\x00"), exifBlock(binary.LittleEndian, 8)...)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"none", jpg, 1},
		{"exif", withSegment(jpg, 0xe1, exif), 8},
		{"after XMP APP1", withSegment(withSegment(jpg, 0xe1, exif), 0xe1, []byte("http://ns.adobe.com/xap/1.0/\x00<x/>")), 8},
		{"APP1 not exif", withSegment(jpg, 0xe1, []byte("Exif\x00")), 1},
		{"exif block truncated", withSegment(jpg, 0xe1, exif[:14]), 1},
		{"segment length past end", append([]byte("\xff\xd8\xff\xe1\xff\xffExif\x00\x00"), exif[6:]...), 1},
		{"segment length below 2", []byte("\xff\xd8\xff\xe1\x00\x01Exif"), 1},
		{"junk between segments", append([]byte("\xff\xd8\x00\x00"), withSegment(jpg, 0xe1, exif)[2:]...), 1},
		{"only SOI", []byte{0xff, 0xd8}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(tt.data); got != tt.want {
				t.Errorf("jpegOrientation = %d, want %d", got, tt.want)
			}
		})
	}

	// A broken EXIF block never fails the upload.
	m, info, err := Image(withSegment(jpg, 0xe1, exif[:14]), Limits{})
	if err != nil || info.Orientation != 1 {
		t.Fatalf("Image with broken EXIF: %v, %+v", err, info)
	}
	checkOpaque(t, m, info)
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string // format, or "" for ErrUnsupportedFormat
	}{
		{"jpeg", "\xff\xd8\xff\xe0", JPEG},
		{"png", "\x89PNG\r\n\x1a\n", PNG},
		{"gif87a", "GIF87a", GIF},
		{"gif89a", "GIF89a", GIF},
		{"webp", "RIFF\x00\x00\x00\x00WEBPVP8 ", WebP},
		{"riff wave", "RIFF\x00\x00\x00\x00WAVEfmt ", ""},
		{"bmp v3", "BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00", BMP},
		{"bmp v5", "BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x7c\x00\x00\x00", BMP},
		{"BM text", "BMX is a file format they said", ""},
		{"tiff le", "II*\x00", TIFF},
		{"tiff be", "MM\x00*", TIFF},
		{"gif8 only", "GIF8", ""},
		{"text", "just words", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sniff([]byte(tt.data))
			if tt.want == "" {
				if !errors.Is(err, ErrUnsupportedFormat) {
					t.Errorf("Sniff = %q, %v; want ErrUnsupportedFormat", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Sniff = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := Sniff(nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("Sniff(nil) = %v, want ErrEmpty", err)
	}
}

// TestPanicBecomesCorrupt swaps in a decoder that panics, standing in for
// the x/image bugs this guard exists for.
func TestPanicBecomesCorrupt(t *testing.T) {
	orig := codecs[BMP]
	t.Cleanup(func() { codecs[BMP] = orig })
	codecs[BMP] = codec{orig.config, func(io.Reader) (image.Image, error) { panic("index out of range") }}

	m, info, err := Image(encBMP(t, twoColour(8, 8)), Limits{})
	if !errors.Is(err, ErrCorrupt) || m != nil || info != (Info{}) {
		t.Fatalf("Image = %v, %+v, %v; want ErrCorrupt", m != nil, info, err)
	}
	if want := "decode: corrupt bmp: decoder panicked: panic: index out of range"; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
}

func TestMisnamedWebP(t *testing.T) {
	data, err := os.ReadFile(sharedPath(t, "edge_cases/misnamed_webp_Scarlett_Johansson/img47.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	m, info, err := Image(data, Limits{})
	if err != nil {
		t.Fatalf("Image: %v", err)
	}
	checkOpaque(t, m, info)
	if info.Format != WebP || info.Width != 1350 || info.Height != 1800 {
		t.Errorf("info = %+v, want webp 1350x1800", info)
	}
	_, _, err = Image(data[:len(data)/2], Limits{})
	if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
		t.Errorf("half a WebP: %v, want ErrTruncated or ErrCorrupt", err)
	}
}

// TestSharedData decodes every image of the corpora the pipeline is tested
// on; RGBA PNGs and EXIF-carrying camera JPEGs are among them.
func TestSharedData(t *testing.T) {
	for _, dir := range []string{"fr_examples", "no_face", "edge_cases"} {
		root := sharedPath(t, dir)
		n := 0
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff":
			default:
				return nil
			}
			n++
			t.Run(strings.TrimPrefix(p, sharedData+"/"), func(t *testing.T) {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				m, info, err := Image(data, Limits{})
				if err != nil {
					t.Fatalf("Image: %v", err)
				}
				checkOpaque(t, m, info)
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("no images found under %s", root)
		}
	}
}

func BenchmarkImage(b *testing.B) {
	for _, bm := range []struct{ name, path string }{
		{"lfw-250px", "lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg"},
		{"1920px", "group_photos/vladmandic_sample1.jpg"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			data, err := os.ReadFile(sharedPath(b, bm.path))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Image(data, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
