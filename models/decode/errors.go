package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// Sentinel kinds. Every error returned by this package is an [*Error] whose
// Kind is one of these, so callers (the HTTP layer in particular) can map a
// failure to a status with errors.Is without parsing messages.
var (
	// ErrEmpty: no bytes at all (HTTP 422).
	ErrEmpty = errors.New("decode: empty image data")
	// ErrTooLarge: more bytes than Limits.MaxBytes (HTTP 413).
	ErrTooLarge = errors.New("decode: image data too large")
	// ErrTooManyPixels: the header claims more pixels than Limits.MaxPixels (HTTP 413).
	ErrTooManyPixels = errors.New("decode: too many pixels")
	// ErrUnsupportedFormat: not an image, or an image format or variant we do
	// not decode (HEIC, SVG, RLE BMP, arithmetic-coded JPEG…) (HTTP 415).
	ErrUnsupportedFormat = errors.New("decode: unsupported image format")
	// ErrTruncated: the data ends before the image does (HTTP 422).
	ErrTruncated = errors.New("decode: truncated image")
	// ErrCorrupt: the data is malformed (HTTP 400).
	ErrCorrupt = errors.New("decode: corrupt image")
	// ErrTooCostly: the data may be a valid image, but decoding it would cost far more than
	// any real photo does (a JPEG with more than 100 scans) (HTTP 422).
	ErrTooCostly = errors.New("decode: image too costly to decode")
)

// Error describes why an upload could not be decoded.
type Error struct {
	Kind   error  // one of the sentinels above
	Format string // sniffed format ("jpeg", "png", …); empty when not known
	Msg    string // precise human-readable description, without the "decode: " prefix
	Err    error  // underlying decoder error, if any
}

// Error returns "decode: <Msg>[: <Err>]", e.g. "decode: truncated jpeg: unexpected EOF".
func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" && e.Kind != nil {
		msg = strings.TrimPrefix(e.Kind.Error(), "decode: ")
	}
	if e.Err != nil {
		return "decode: " + msg + ": " + e.Err.Error()
	}
	return "decode: " + msg
}

// Unwrap returns both the kind and the cause, so errors.Is matches either
// (errors.Is(err, ErrTruncated) and errors.Is(err, io.ErrUnexpectedEOF)).
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// classify turns a decoder error into an *Error of the right kind. The
// decoders do not agree on how they report a short read: some wrap
// io.ErrUnexpectedEOF, image/gif formats it with %v, image/png says "not
// enough pixel data" and image/jpeg "short Huffman data". So a file is also
// called truncated when it lacks its format's end marker: a sound signal that
// the upload was cut, whatever the decoder tripped over first.
func classify(format, stage string, data []byte, err error) *Error {
	if isTruncation(err) {
		return &Error{Kind: ErrTruncated, Format: format, Msg: "truncated " + format, Err: err}
	}
	if isUnsupported(err) {
		return &Error{Kind: ErrUnsupportedFormat, Format: format, Msg: "unsupported " + format + " variant", Err: err}
	}
	if why := incomplete(format, data); why != "" {
		return &Error{Kind: ErrTruncated, Format: format, Msg: "truncated " + format + " (" + why + ")", Err: err}
	}
	return &Error{Kind: ErrCorrupt, Format: format, Msg: "corrupt " + format + " " + stage, Err: err}
}

// incomplete says why data cannot be a whole file of the format, or "" when
// it may be. Only formats with a cheap, reliable end marker are checked.
func incomplete(format string, data []byte) string {
	switch format {
	case JPEG:
		// Entropy-coded data escapes FF, so FF D9 after the header is the
		// EOI marker itself.
		if !bytes.Contains(data[max(walkJPEG(data, nil), 0):], []byte{0xff, 0xd9}) {
			return "no end-of-image marker"
		}
	case PNG:
		if !bytes.Contains(data, []byte("\x00\x00\x00\x00IEND")) {
			return "no IEND chunk"
		}
	case WebP:
		if len(data) >= 8 {
			if want := 8 + uint64(binary.LittleEndian.Uint32(data[4:8])); uint64(len(data)) < want {
				return fmt.Sprintf("RIFF header says %d bytes, got %d", want, len(data))
			}
		}
	}
	return ""
}

func isTruncation(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "unexpected EOF") || strings.HasSuffix(s, ": EOF")
}

// isUnsupported reports a valid file that uses a feature the Go decoders lack
// (12-bit JPEG, RLE BMP, exotic TIFF compression). That is a 415, not a 422:
// the client sent a real image we cannot read.
func isUnsupported(err error) bool {
	var (
		je jpeg.UnsupportedError
		pe png.UnsupportedError
		te tiff.UnsupportedError
	)
	return errors.As(err, &je) || errors.As(err, &pe) || errors.As(err, &te) ||
		errors.Is(err, bmp.ErrUnsupported)
}
