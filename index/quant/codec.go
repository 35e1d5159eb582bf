package quant

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
)

const (
	codesMagic   = "FMQCODES"
	codesVersion = 1
	headerSize   = 8 + 4 + 4 + 4 + 8 + 8
	paramsSize   = 12
	// maxCount bounds the count a header may claim, as the index's segments do.
	maxCount = 1 << 28
	// readChunk is how many bytes ReadCodes trusts the header for before they have arrived: a
	// corrupt count costs memory in proportion to the bytes really there.
	readChunk = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of ReadCodes; test with errors.Is.
var (
	// ErrCorrupt means a block of codes failed its checksum or a structural check.
	ErrCorrupt = errors.New("quant: corrupt codes")
	// ErrVersion means a block of codes has a format version or a kind this build does not know.
	ErrVersion = errors.New("quant: unsupported codes format")
)

// WriteTo writes the codes as one block (format in the package doc) and returns the bytes
// written.
func (c *Codes) WriteTo(w io.Writer) (int64, error) {
	crc := crc32.New(castagnoli)
	cw := &countWriter{w: io.MultiWriter(w, crc)}
	bw := bufio.NewWriterSize(cw, 1<<16)
	var hdr [headerSize]byte
	copy(hdr[:], codesMagic)
	binary.LittleEndian.PutUint32(hdr[8:], codesVersion)
	hdr[12] = byte(c.q.cfg.Kind)
	binary.LittleEndian.PutUint32(hdr[16:], uint32(c.q.cfg.Dim))
	binary.LittleEndian.PutUint64(hdr[20:], c.q.cfg.Seed)
	binary.LittleEndian.PutUint64(hdr[28:], uint64(len(c.params)))
	bw.Write(hdr[:])
	var pb [paramsSize]byte
	for _, p := range c.params {
		binary.LittleEndian.PutUint32(pb[0:], math.Float32bits(p.Scale))
		binary.LittleEndian.PutUint32(pb[4:], math.Float32bits(p.Offset))
		binary.LittleEndian.PutUint32(pb[8:], p.Sum)
		bw.Write(pb[:])
	}
	bw.Write(c.data)
	// bufio keeps the first write error and returns it from Flush.
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("quant: write codes: %w", err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	n, err := w.Write(sum[:])
	if err != nil {
		return cw.n + int64(n), fmt.Errorf("quant: write codes: %w", err)
	}
	return cw.n + int64(n), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// crcReader hashes everything read through it.
type crcReader struct {
	r   io.Reader
	crc hash.Hash32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	return n, err
}

// ReadCodes reads one block written by WriteTo, and no byte after it. A damaged, truncated or
// inconsistent block returns an error wrapping ErrCorrupt (ErrVersion for a format or kind this
// build does not know), never a panic and never codes that would answer wrongly: beyond the
// checksum, every Params must be in the range Encode can produce and its Sum must match its
// code. The returned codes
// carry their own quantizer, rebuilt from the header's kind, dimension and seed.
func ReadCodes(r io.Reader) (*Codes, error) {
	cr := &crcReader{r: r, crc: crc32.New(castagnoli)}
	var hdr [headerSize]byte
	if _, err := io.ReadFull(cr, hdr[:]); err != nil {
		return nil, corrupt("header: %w", unexpectedEOF(err))
	}
	if string(hdr[:8]) != codesMagic {
		return nil, corrupt("magic %q", hdr[:8])
	}
	if v := binary.LittleEndian.Uint32(hdr[8:]); v != codesVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrVersion, v, codesVersion)
	}
	kind := Kind(hdr[12])
	if kind != Rotated8 && kind != Plain8 {
		return nil, fmt.Errorf("%w: kind %d", ErrVersion, kind)
	}
	if hdr[13] != 0 || hdr[14] != 0 || hdr[15] != 0 {
		return nil, corrupt("reserved header bytes % x", hdr[13:16])
	}
	cfg := Config{Kind: kind, Dim: int(binary.LittleEndian.Uint32(hdr[16:])), Seed: binary.LittleEndian.Uint64(hdr[20:])}
	count := binary.LittleEndian.Uint64(hdr[28:])
	if count > maxCount {
		return nil, corrupt("count %d", count)
	}
	q, err := New(cfg)
	if err != nil {
		return nil, corrupt("header: %w", err)
	}
	n := int(count)
	params, err := readChunked(cr, n*paramsSize)
	if err != nil {
		return nil, corrupt("params: %w", err)
	}
	data, err := readChunked(cr, n*q.CodeSize())
	if err != nil {
		return nil, corrupt("codes: %w", err)
	}
	want := cr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil {
		return nil, corrupt("checksum: %w", unexpectedEOF(err))
	}
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		return nil, corrupt("checksum mismatch (stored %08x, computed %08x)", got, want)
	}
	c := &Codes{q: q, params: make([]Params, n), data: data}
	size := q.CodeSize()
	for i := range c.params {
		b := params[i*paramsSize:]
		p := Params{
			Scale:  math.Float32frombits(binary.LittleEndian.Uint32(b[0:])),
			Offset: math.Float32frombits(binary.LittleEndian.Uint32(b[4:])),
			Sum:    binary.LittleEndian.Uint32(b[8:]),
		}
		if !(abs32(p.Offset) <= maxParam) || !(p.Scale >= 0 && p.Scale <= maxParam/255) {
			return nil, corrupt("code %d: scale %g, offset %g", i, p.Scale, p.Offset)
		}
		var s uint32
		for _, x := range data[i*size : (i+1)*size] {
			s += uint32(x)
		}
		if s != p.Sum {
			return nil, corrupt("code %d: sum %d, codes add up to %d", i, p.Sum, s)
		}
		c.params[i] = p
	}
	return c, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrCorrupt, fmt.Errorf(format, args...))
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readChunked reads n bytes, allocating as they arrive rather than all at once.
func readChunked(r io.Reader, n int) ([]byte, error) {
	out := make([]byte, 0, min(n, readChunk))
	for len(out) < n {
		k := min(n-len(out), readChunk)
		out = append(out, make([]byte, k)...)
		if _, err := io.ReadFull(r, out[len(out)-k:]); err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	return out, nil
}
