package decode

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// sharedData is the team's read-only image corpus, relative to this package
// (the corpus sits beside the repository, in ../shared/data). Tests that
// need it skip when it is absent; its images are never copied into the repo.
const sharedData = "../../../shared/data"

func sharedPath(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedData, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	return p
}

var (
	red  = color.NRGBA{0xff, 0, 0, 0xff}
	blue = color.NRGBA{0, 0, 0xff, 0xff}
)

// twoColour is w×h, left half red and right half blue: asymmetric, so every
// flip and rotation moves the colours somewhere distinguishable, and with
// 8-pixel-aligned halves JPEG keeps them clean.
func twoColour(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if x < w/2 {
				m.SetNRGBA(x, y, red)
			} else {
				m.SetNRGBA(x, y, blue)
			}
		}
	}
	return m
}

func encJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encPNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encGIF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encBMP(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encTIFF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tiff.Encode(&b, m, &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// animatedGIF has two 8×8 frames, red then blue.
func animatedGIF(t testing.TB) []byte {
	t.Helper()
	pal := color.Palette{red, blue}
	f1 := image.NewPaletted(image.Rect(0, 0, 8, 8), pal)
	f2 := image.NewPaletted(image.Rect(0, 0, 8, 8), pal)
	for i := range f2.Pix {
		f2.Pix[i] = 1
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{f1, f2}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngChunk encodes one PNG chunk with its CRC (over type and data).
func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// pngHeader is a PNG with only a valid IHDR (8-bit RGB) and IEND: enough for
// DecodeConfig, and the shape of a decompression bomb's first 45 bytes.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // depth, colour type RGB, compression, filter, interlace
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, pngChunk("IHDR", ihdr)...)
	return append(b, pngChunk("IEND", nil)...)
}

// order is a byte order that can also append, as binary.LittleEndian and
// binary.BigEndian both can.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// exifBlock builds the TIFF structure of an EXIF APP1 payload with one IFD0
// entry: Orientation (SHORT, count 1) = o.
func exifBlock(bo order, o uint16) []byte {
	var b []byte
	if bo == binary.LittleEndian {
		b = []byte("II*\x00")
	} else {
		b = []byte("MM\x00*")
	}
	b = bo.AppendUint32(b, 8) // IFD0 offset
	b = bo.AppendUint16(b, 1) // entry count
	b = bo.AppendUint16(b, tagOrientation)
	b = bo.AppendUint16(b, 3) // SHORT
	b = bo.AppendUint32(b, 1) // count
	b = bo.AppendUint16(b, o)
	b = bo.AppendUint16(b, 0)    // value padding
	return bo.AppendUint32(b, 0) // no next IFD
}

// withSegment inserts a marker segment right after a JPEG's SOI, where
// cameras put APP1.
func withSegment(jpg []byte, marker byte, payload []byte) []byte {
	seg := []byte{0xff, marker}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// withEXIF inserts an APP1 "Exif" segment carrying orientation o.
func withEXIF(jpg []byte, bo order, o uint16) []byte {
	return withSegment(jpg, 0xe1, append([]byte("Exif\x00\x00"), exifBlock(bo, o)...))
}

// checkOpaque fails unless every alpha byte is 255 and the image sits at the
// origin with the size Info reports.
func checkOpaque(t testing.TB, m *image.NRGBA, info Info) {
	t.Helper()
	if m == nil {
		t.Fatal("nil image with nil error")
	}
	if m.Rect.Min != (image.Point{}) {
		t.Fatalf("bounds %v do not start at the origin", m.Rect)
	}
	if m.Rect.Dx() != info.Width || m.Rect.Dy() != info.Height {
		t.Fatalf("image is %dx%d, Info says %dx%d", m.Rect.Dx(), m.Rect.Dy(), info.Width, info.Height)
	}
	for y := range m.Rect.Dy() {
		row := m.Pix[y*m.Stride : y*m.Stride+4*m.Rect.Dx()]
		for i := 3; i < len(row); i += 4 {
			if row[i] != 0xff {
				t.Fatalf("alpha at (%d,%d) is %d, want 255", i/4, y, row[i])
			}
		}
	}
}

// near reports whether two colours differ by at most tol per channel
// (JPEG is lossy).
func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}
