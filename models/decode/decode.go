package decode

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strconv"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Limits bound what Image accepts. Zero (or negative) values mean the
// defaults from [DefaultLimits].
type Limits struct {
	// MaxBytes caps the encoded size. Default 20 MiB: a large phone photo is
	// 5–10 MiB, and the HTTP layer should enforce the same cap while reading.
	MaxBytes int64
	// MaxPixels caps width×height as read from the header, before any pixel
	// is allocated. Default 40 megapixels: above any phone camera in common
	// use (48 MP sensors save 12 MP by default), and at 4 bytes per pixel
	// already 160 MB of RGBA.
	MaxPixels int64
}

// Default limits; see [Limits].
const (
	DefaultMaxBytes  = 20 << 20
	DefaultMaxPixels = 40_000_000
)

// DefaultLimits returns the limits Image uses for zero fields.
func DefaultLimits() Limits {
	return Limits{MaxBytes: DefaultMaxBytes, MaxPixels: DefaultMaxPixels}
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	return l
}

// Info describes a decoded image.
type Info struct {
	Format        string // "jpeg", "png", "gif", "webp", "bmp" or "tiff", sniffed from the bytes
	Width, Height int    // of the returned image, after EXIF orientation is applied
	Orientation   int    // EXIF orientation 1..8 that was applied (1 when none)
	Bytes         int    // encoded size
}

// codec is one format's decoder pair. Listing them here, rather than relying
// on image.Decode, means only the decoder for the sniffed format ever sees
// the bytes: a file cannot pick a different decoder than its signature says.
type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var codecs = map[string]codec{
	JPEG: {jpeg.DecodeConfig, jpeg.Decode},
	PNG:  {png.DecodeConfig, png.Decode},
	GIF:  {gif.DecodeConfig, gif.Decode}, // gif.Decode stops after the first frame
	WebP: {webp.DecodeConfig, webp.Decode},
	BMP:  {bmp.DecodeConfig, bmp.Decode},
	TIFF: {tiff.DecodeConfig, tiff.Decode},
}

// Image decodes an untrusted upload into an opaque 8-bit RGB image, returned
// as an *image.NRGBA whose bounds start at (0,0) and whose alpha is 255
// everywhere. Transparency is dropped, keeping each pixel's straight
// (non-premultiplied) colour. EXIF orientation is applied for JPEG and TIFF.
//
// Every error is an [*Error]; use errors.Is with the sentinels. Image never
// panics, whatever data holds; it neither modifies nor retains data and is
// safe for concurrent use.
func Image(data []byte, lim Limits) (img *image.NRGBA, info Info, err error) {
	lim = lim.withDefaults()
	h, err := inspect(data, lim)
	if err != nil {
		return nil, Info{}, err
	}
	format := h.Format
	// The decoders come from outside this package and have panicked on
	// crafted input before (x/image/webp, x/image/tiff); a panic must become
	// a 400, not a crashed server.
	defer func() {
		if r := recover(); r != nil {
			img, info = nil, Info{}
			err = &Error{Kind: ErrCorrupt, Format: format, Msg: "corrupt " + format + ": decoder panicked",
				Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	cfg := image.Config{Width: h.Width, Height: h.Height}
	c := codecs[format]

	src, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return nil, Info{}, classify(format, "data", data, err)
	}
	b := src.Bounds()
	if format == GIF && b != image.Rect(0, 0, cfg.Width, cfg.Height) {
		// The first frame may cover only part of the logical screen
		// (image/gif checks it lies inside); place it as a viewer would.
		img = onCanvas(toOpaque(src), b.Min, cfg.Width, cfg.Height)
	} else {
		// Defence in depth: the pixel limit was checked on the header's
		// size, so a decoder returning any other size is not trusted.
		if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
			return nil, Info{}, &Error{Kind: ErrCorrupt, Format: format,
				Msg: fmt.Sprintf("corrupt %s: header says %d×%d but decoded %d×%d",
					format, cfg.Width, cfg.Height, b.Dx(), b.Dy())}
		}
		img = toOpaque(src)
	}

	o := h.Orientation
	img = orient(img, o)

	return img, Info{
		Format:      format,
		Width:       img.Rect.Dx(),
		Height:      img.Rect.Dy(),
		Orientation: o,
		Bytes:       len(data),
	}, nil
}

// Header is what [Inspect] learns about an image without decoding its pixels.
type Header struct {
	Format        string
	Width, Height int // as stored, before EXIF orientation
	Orientation   int // EXIF orientation 1..8 that Image will apply (1 when none)
	// bytesPerPixel is the peak bytes Image holds per pixel, in 1/16ths; see PeakBytes.
	bytesPerPixel int64
}

// Inspect runs every check [Image] makes before decoding (size, format, header, pixel limit,
// JPEG scan limit) and returns the header, at a cost independent of the image's size. Its
// errors are Image's.
func Inspect(data []byte, lim Limits) (Header, error) {
	h, err := inspect(data, lim.withDefaults())
	if err != nil {
		return Header{}, err
	}
	return h, nil
}

func inspect(data []byte, lim Limits) (h Header, err error) {
	if len(data) == 0 {
		return Header{}, &Error{Kind: ErrEmpty, Msg: "empty image data"}
	}
	if int64(len(data)) > lim.MaxBytes {
		return Header{}, &Error{Kind: ErrTooLarge,
			Msg: fmt.Sprintf("image data is %d bytes, limit is %d bytes", len(data), lim.MaxBytes)}
	}
	format, err := Sniff(data)
	if err != nil {
		return Header{}, err
	}
	h = Header{Format: format, Orientation: 1}
	// DecodeConfig is outside code too (see Image).
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Kind: ErrCorrupt, Format: format, Msg: "corrupt " + format + " header: decoder panicked",
				Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	cfg, err := codecs[format].config(bytes.NewReader(data))
	if err != nil {
		return h, classify(format, "header", data, err)
	}
	if err := checkPixels(format, cfg.Width, cfg.Height, lim.MaxPixels); err != nil {
		return h, err
	}
	h.Width, h.Height = cfg.Width, cfg.Height
	var jl jpegLayout
	switch format {
	case JPEG:
		if jl = jpegStructure(data, maxJPEGScans); jl.scans > maxJPEGScans {
			return h, &Error{Kind: ErrTooCostly, Format: format,
				Msg: fmt.Sprintf("jpeg has more than %d scans (the limit)", maxJPEGScans)}
		}
		h.Orientation = jpegOrientation(data)
	case TIFF:
		h.Orientation = tiffOrientation(data)
	}
	h.bytesPerPixel = peakPerPixel(format, cfg.ColorModel, jl, data)
	if h.Orientation != 1 {
		h.bytesPerPixel += 64 // orient makes a rotated copy while the upright one is alive
	}
	return h, nil
}

// PeakBytes estimates the most memory [Image] holds at once for this header (decoder buffers,
// the opaque copy, a rotated copy). The per-pixel factors are upper bounds of what
// BenchmarkPeakBytes measures (bench/RESULTS.md, "Decode memory").
func (h Header) PeakBytes() int64 {
	return int64(h.Width)*int64(h.Height)*h.bytesPerPixel/16 + 64<<10
}

// peakPerPixel is the peak bytes per pixel, in 1/16ths, that decoding the format holds: what
// the decoder allocates, plus the 4-byte NRGBA copy unless toOpaque converts in place.
func peakPerPixel(format string, cm color.Model, jl jpegLayout, data []byte) int64 {
	const nrgba = 64 // 4 bytes
	switch format {
	case JPEG:
		s := int64(jl.samples)
		if s == 0 {
			s = 48 // no usable frame header: the decoder will fail, assume 4:4:4
		}
		b := s + nrgba // YCbCr or grey planes, then the NRGBA copy
		if s > 48 {
			b += 2 * nrgba // CMYK: image/jpeg builds a CMYK image too, then fromCMYK
		}
		if jl.progressive {
			b += 4 * s // an int32 coefficient per sample, kept until the last scan
		}
		return b
	case PNG:
		d := int64(modelBytes(cm))
		if len(data) > 28 && data[28] == 1 {
			d *= 2 // Adam7: each pass is decoded into its own image, then merged
		}
		if cm == color.RGBAModel || cm == color.NRGBAModel {
			return d + 16 // converted in place; row buffers
		}
		return d + nrgba + 16
	case GIF:
		return 16 + 2*nrgba // paletted frame, its NRGBA copy, and a canvas when the frame is smaller
	case WebP:
		return 3 * nrgba // lossless keeps ARGB words and transforms; lossy YCbCr+alpha is less
	case BMP:
		return 2 * nrgba
	case TIFF:
		d := int64(modelBytes(cm))
		return 4*d + nrgba // the whole file's strips decompressed, the image, the NRGBA copy (measured)
	}
	return 4 * nrgba
}

// modelBytes is the bytes per pixel, in 1/16ths, of the image a decoder returns for colour
// model cm.
func modelBytes(cm color.Model) int {
	switch cm {
	case color.GrayModel, color.AlphaModel:
		return 16
	case color.Gray16Model, color.Alpha16Model:
		return 32
	case color.RGBA64Model, color.NRGBA64Model:
		return 128
	}
	if _, ok := cm.(color.Palette); ok {
		return 16
	}
	return 64
}

// checkPixels refuses a header whose size is not positive or exceeds max
// pixels. The product is never formed in a type that could overflow: w >
// max/h is the same test as w*h > max for positive integers.
func checkPixels(format string, w, h int, max int64) error {
	if w <= 0 || h <= 0 {
		return &Error{Kind: ErrCorrupt, Format: format,
			Msg: fmt.Sprintf("corrupt %s header: size %d×%d", format, w, h)}
	}
	if int64(w) > max/int64(h) {
		return &Error{Kind: ErrTooManyPixels, Format: format,
			Msg: fmt.Sprintf("%s image is %d×%d = %s megapixels, limit is %s megapixels",
				format, w, h, megapixels(float64(w)*float64(h)), megapixels(float64(max)))}
	}
	return nil
}

// megapixels formats n pixels in megapixels without exponent or trailing
// zeros: 1e10 → "10000", 1<<20 → "1.048576".
func megapixels(n float64) string {
	return strconv.FormatFloat(n/1e6, 'f', -1, 64)
}
