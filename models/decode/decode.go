package decode

import (
	"bytes"
	"fmt"
	"image"
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
	if len(data) == 0 {
		return nil, Info{}, &Error{Kind: ErrEmpty, Msg: "empty image data"}
	}
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, Info{}, &Error{Kind: ErrTooLarge,
			Msg: fmt.Sprintf("image data is %d bytes, limit is %d bytes", len(data), lim.MaxBytes)}
	}
	format, err := Sniff(data)
	if err != nil {
		return nil, Info{}, err
	}

	// The decoders come from outside this package and have panicked on
	// crafted input before (x/image/webp, x/image/tiff); a panic must become
	// a 422, not a crashed server.
	defer func() {
		if r := recover(); r != nil {
			img, info = nil, Info{}
			err = &Error{Kind: ErrCorrupt, Format: format, Msg: "corrupt " + format + ": decoder panicked",
				Err: fmt.Errorf("panic: %v", r)}
		}
	}()

	c := codecs[format]
	cfg, err := c.config(bytes.NewReader(data))
	if err != nil {
		return nil, Info{}, classify(format, "header", data, err)
	}
	if err := checkPixels(format, cfg.Width, cfg.Height, lim.MaxPixels); err != nil {
		return nil, Info{}, err
	}
	if format == JPEG {
		if n := jpegScans(data); n > maxJPEGScans {
			return nil, Info{}, &Error{Kind: ErrCorrupt, Format: format,
				Msg: fmt.Sprintf("jpeg has %d scans, limit is %d", n, maxJPEGScans)}
		}
	}

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

	o := 1
	switch format {
	case JPEG:
		o = jpegOrientation(data)
	case TIFF:
		o = tiffOrientation(data)
	}
	img = orient(img, o)

	return img, Info{
		Format:      format,
		Width:       img.Rect.Dx(),
		Height:      img.Rect.Dy(),
		Orientation: o,
		Bytes:       len(data),
	}, nil
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
