package decode

import "encoding/binary"

// maxJPEGScans bounds the scans of a JPEG. Go's decoder walks every block of the frame for
// every scan, however little the scan holds: one end-of-band-run symbol covers 32767 blocks, so
// 16 KB of progressive scans over a 36-megapixel frame cost 2.2 s of CPU at 256 scans (the old
// cap) and would cost minutes at thousands. libjpeg's standard progressive script writes 10
// scans (6 for grey) and scan-optimising encoders (mozjpeg) stay near 20, so 100 refuses no real
// photo while holding a crafted one to under 0.9 s here (TestScanBombRefusedQuickly's file cut
// to 100 scans), about what decoding a real 39-megapixel photo costs.
const maxJPEGScans = 100

// jpegLayout is what the marker walk learns about a JPEG before it is decoded.
type jpegLayout struct {
	scans       int  // SOS markers the decoder will meet, counted up to the walk's limit+1
	progressive bool // SOF2/SOF6/SOF10/SOF14: the decoder keeps every block's coefficients
	// samples is the sampled components per pixel in 1/16ths (grey 16, YCbCr 4:2:0 24, 4:4:4
	// 48, CMYK 64), from the first frame header; 0 when there is none.
	samples int
}

// jpegStructure walks a JPEG's markers the way Go's decoder reads them, without decoding, and
// stops once it has counted more than limit scans. Segments are skipped by their length;
// entropy-coded data after an SOS header is skipped to the next byte pair FF xx that is a
// marker (FF 00 is a stuffed FF, FF D0–D7 a restart marker); garbage and fill bytes between
// segments are skipped as the decoder skips them. It reads every byte at most twice, never
// out of bounds, and allocates nothing.
func jpegStructure(data []byte, limit int) jpegLayout {
	var l jpegLayout
	i := 2 // past SOI (Sniff checked FF D8)
	for i+1 < len(data) {
		if data[i] != 0xff { // extraneous data: the decoder resynchronises on the next FF
			i++
			continue
		}
		m := data[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0x00, m == 0x01, m == 0xd8, m >= 0xd0 && m <= 0xd7: // no length
			i += 2
			continue
		case m == 0xd9: // EOI: the decoder stops here
			return l
		}
		if i+4 > len(data) {
			return l
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return l // the decoder fails on a segment that overruns the data
		}
		payload := data[i+4 : i+2+n]
		i += 2 + n
		switch {
		case m == 0xda:
			l.scans++
			if l.scans > limit {
				return l
			}
			i = skipEntropy(data, i)
		case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc: // SOFn
			if l.samples == 0 {
				l.progressive = m&3 == 2
				l.samples = frameSamples(payload)
			}
		}
	}
	return l
}

// skipEntropy returns the offset of the first marker at or after i that ends entropy-coded
// data.
func skipEntropy(data []byte, i int) int {
	for ; i+1 < len(data); i++ {
		if data[i] != 0xff {
			continue
		}
		if m := data[i+1]; m != 0x00 && (m < 0xd0 || m > 0xd7) {
			return i
		}
		i++ // skip the stuffed 00 or the restart marker's second byte
	}
	return len(data)
}

// frameSamples reads a frame header's components and returns the samples per pixel in 1/16ths,
// or 0 when the header is malformed.
func frameSamples(p []byte) int {
	if len(p) < 6 {
		return 0
	}
	nc := int(p[5])
	if nc == 0 || len(p) < 6+3*nc {
		return 0
	}
	sum, hmax, vmax := 0, 1, 1
	for c := range nc {
		h, v := int(p[6+3*c+1]>>4), int(p[6+3*c+1]&15)
		if h == 0 || v == 0 {
			return 0
		}
		sum += h * v
		hmax, vmax = max(hmax, h), max(vmax, v)
	}
	return 16 * sum / (hmax * vmax)
}
