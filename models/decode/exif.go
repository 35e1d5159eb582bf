package decode

import (
	"bytes"
	"encoding/binary"
	"image"

	"github.com/disintegration/imaging"
)

// tagOrientation is the EXIF/TIFF Orientation tag. Its value 1..8 says how
// the stored pixels must be flipped or rotated to appear upright; phones
// store portrait photos sideways and set 6 or 8, and a face detector fed the
// sideways pixels finds nothing.
const tagOrientation = 0x0112

// walkJPEG visits the marker segments of a JPEG before its first scan,
// calling fn with each marker and payload until fn returns false. It returns
// the offset of the first SOS marker, or -1 when the header is malformed or
// fn stopped early. It never reads out of bounds, whatever data holds.
func walkJPEG(data []byte, fn func(marker byte, payload []byte) bool) int {
	i := 2 // past SOI
	for i+4 <= len(data) {
		if data[i] != 0xff {
			return -1
		}
		m := data[i+1]
		switch {
		case m == 0xff: // fill byte before a marker
			i++
			continue
		case m == 0xd8, m == 0x01, m >= 0xd0 && m <= 0xd7: // markers without a length
			i += 2
			continue
		case m == 0xda:
			return i
		case m == 0xd9:
			return -1
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return -1
		}
		if fn != nil && !fn(m, data[i+4:i+2+n]) {
			return -1
		}
		i += 2 + n
	}
	return -1
}

// jpegOrientation returns the orientation from the first APP1 "Exif" segment,
// or 1 when there is none or it is malformed.
func jpegOrientation(data []byte) int {
	o := 1
	walkJPEG(data, func(m byte, p []byte) bool {
		if m == 0xe1 && bytes.HasPrefix(p, []byte("Exif\x00\x00")) {
			o = tiffOrientation(p[6:])
			return false
		}
		return true
	})
	return o
}

// tiffOrientation reads the Orientation tag from IFD0 of a TIFF structure
// (an EXIF block is one, and so is a whole .tiff file). Every offset comes
// from the untrusted data, so every read is checked; anything unexpected
// yields 1, because a broken EXIF block must not fail an otherwise good
// upload.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := uint64(bo.Uint32(b[4:8]))
	if off < 8 || off+2 > uint64(len(b)) {
		return 1
	}
	n := int(bo.Uint16(b[off:]))
	entries := b[off+2:]
	for k := 0; k < n; k++ {
		if 12*(k+1) > len(entries) {
			return 1
		}
		e := entries[12*k : 12*(k+1)]
		if bo.Uint16(e[0:2]) != tagOrientation {
			continue
		}
		if bo.Uint32(e[4:8]) != 1 { // count
			return 1
		}
		var v uint32
		switch bo.Uint16(e[2:4]) { // type; the value fits in the entry itself
		case 3: // SHORT, the type the standard prescribes
			v = uint32(bo.Uint16(e[8:10]))
		case 4: // LONG, written by a few buggy tools
			v = bo.Uint32(e[8:12])
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return int(v)
	}
	return 1
}

// orient applies EXIF orientation o so that the result is upright. The
// mapping follows the EXIF 2.3 table (and imaging's own fixOrientation):
// imaging's Rotate90 is counter-clockwise, so orientation 6 ("rotate 90° CW
// to view") is Rotate270.
func orient(img *image.NRGBA, o int) *image.NRGBA {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}
