package decode

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// Format names returned by [Sniff] and stored in [Info.Format].
const (
	JPEG = "jpeg"
	PNG  = "png"
	GIF  = "gif"
	WebP = "webp"
	BMP  = "bmp"
	TIFF = "tiff"
)

// Sniff names the image format of data from its magic bytes. It never looks
// at a file name: uploads from ad sites are routinely misnamed (a WebP saved
// as .jpg). For anything that is not one of the six supported formats it
// returns an [*Error] of kind [ErrUnsupportedFormat] saying, when it is cheap
// to tell, what the data looks like instead ("not an image: looks like text").
func Sniff(data []byte) (string, error) {
	if len(data) == 0 {
		return "", &Error{Kind: ErrEmpty, Msg: "empty image data"}
	}
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return JPEG, nil
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return GIF, nil
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return WebP, nil
	case isBMP(data):
		return BMP, nil
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return TIFF, nil
	}
	return "", &Error{Kind: ErrUnsupportedFormat, Msg: describe(data)}
}

// isBMP checks more than the two-byte "BM" signature, which plain text
// ("BMW for sale…") also starts with: the DIB header that follows the 14-byte
// file header must have one of the sizes the BMP versions define.
func isBMP(data []byte) bool {
	if len(data) < 18 || data[0] != 'B' || data[1] != 'M' {
		return false
	}
	switch binary.LittleEndian.Uint32(data[14:18]) {
	case 12, 16, 40, 52, 56, 64, 108, 124:
		return true
	}
	return false
}

// describe guesses what non-image data is, for the error message only. A
// clear "looks like HTML" tells an operator at once that a scraper saved an
// error page instead of a photo.
func describe(data []byte) string {
	head := data[:min(len(data), 1024)]
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n\f")
	lower := bytes.ToLower(trimmed[:min(len(trimmed), 64)])
	has := func(p string) bool { return bytes.HasPrefix(head, []byte(p)) }
	switch {
	case has("%PDF-"):
		return "not an image: looks like a PDF document"
	case bytes.HasPrefix(lower, []byte("<!doctype html")), bytes.HasPrefix(lower, []byte("<html")),
		bytes.HasPrefix(lower, []byte("<head")), bytes.HasPrefix(lower, []byte("<body")):
		return "not an image: looks like HTML"
	case bytes.HasPrefix(lower, []byte("<svg")),
		bytes.HasPrefix(lower, []byte("<?xml")) && bytes.Contains(bytes.ToLower(head), []byte("<svg")):
		return "unsupported format: looks like an SVG vector image"
	case bytes.HasPrefix(lower, []byte("<?xml")):
		return "not an image: looks like XML"
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		switch string(head[8:12]) {
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1":
			return "unsupported format: looks like a HEIC/HEIF image"
		case "avif", "avis":
			return "unsupported format: looks like an AVIF image"
		}
		return "not an image: looks like an MP4/QuickTime video"
	case has("\xff\x0a"), has("\x00\x00\x00\x0cJXL \r\n\x87\n"):
		return "unsupported format: looks like a JPEG XL image"
	case has("\x00\x00\x01\x00"):
		return "unsupported format: looks like an ICO icon"
	case has("8BPS"):
		return "unsupported format: looks like a Photoshop document"
	case has("RIFF"):
		return "not an image: looks like a RIFF file that is not WebP (audio or video?)"
	case has("PK\x03\x04"):
		return "not an image: looks like a ZIP archive"
	case has("\x1f\x8b"):
		return "not an image: looks like gzip data"
	case looksText(head):
		return "not an image: looks like text"
	case has("BM"), has("\xff\xd8"), has("\x89PNG"), has("GIF8"):
		// The start of a real signature with the rest missing or wrong.
		return "not an image: starts like an image signature but is cut short or malformed"
	}
	return "not an image: unknown binary data"
}

// looksText reports valid UTF-8 with no control characters other than
// common whitespace.
func looksText(b []byte) bool {
	// A multi-byte rune may be cut at the end of the window: drop it.
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				b = b[:len(b)-i]
			}
			break
		}
	}
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' || c == 0x7f {
			return false
		}
	}
	return true
}
