package graph

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// File format (little-endian), shared by both implementations:
//
//	header, 64 bytes:
//	  0  magic "FMGRAPH\x00"
//	  8  version uint16 (1)
//	 10  kind uint16 (1 = HNSW, 2 = Coder)
//	 12  dim, n, M, M0, efConstruction, efSearch, entry, maxLevel uint32
//	 44  upperLen uint64 (words in the upper slab; 0 for Coder)
//	 52  seed int64
//	 60  reserved uint32 (0)
//	body (kind-specific, see writeHNSWBody / coder.go)
//	trailer: CRC-32C (Castagnoli) uint32 of every preceding byte
//
// Vectors are never included: the segment owns and stores them.
const (
	headerSize    = 64
	formatVersion = 1
	kindHNSW      = 1
	kindCoder     = 2
)

var (
	magic     = [8]byte{'F', 'M', 'G', 'R', 'A', 'P', 'H', 0}
	crcTable  = crc32.MakeTable(crc32.Castagnoli)
	byteOrder = binary.LittleEndian
)

type header struct {
	kind           uint16
	dim, n         uint32
	m, m0          uint32
	efConstruction uint32
	efSearch       uint32
	entry          uint32
	maxLevel       uint32
	upperLen       uint64
	seed           int64
}

func (hd *header) encode() []byte {
	b := make([]byte, headerSize)
	copy(b, magic[:])
	byteOrder.PutUint16(b[8:], formatVersion)
	byteOrder.PutUint16(b[10:], hd.kind)
	for i, v := range []uint32{hd.dim, hd.n, hd.m, hd.m0, hd.efConstruction, hd.efSearch, hd.entry, hd.maxLevel} {
		byteOrder.PutUint32(b[12+4*i:], v)
	}
	byteOrder.PutUint64(b[44:], hd.upperLen)
	byteOrder.PutUint64(b[52:], uint64(hd.seed))
	return b
}

// readHeader reads and checks the parts of the header common to both kinds:
// magic, version, kind, and that dim and n match the segment's array.
func readHeader(r io.Reader, wantKind uint16, vectors []float32, dim int) (header, error) {
	var hd header
	n, err := checkVectors(vectors, dim)
	if err != nil {
		return hd, err
	}
	b := make([]byte, headerSize)
	if _, err := io.ReadFull(r, b); err != nil {
		return hd, fmt.Errorf("%w: reading header: %w", ErrCorrupt, eofIsUnexpected(err))
	}
	if [8]byte(b[:8]) != magic {
		return hd, fmt.Errorf("%w: bad magic %q", ErrCorrupt, b[:8])
	}
	if v := byteOrder.Uint16(b[8:]); v != formatVersion {
		return hd, fmt.Errorf("%w: format version %d, want %d", ErrVersion, v, formatVersion)
	}
	hd.kind = byteOrder.Uint16(b[10:])
	if hd.kind != wantKind {
		return hd, fmt.Errorf("%w: graph kind %d, want %d", ErrVersion, hd.kind, wantKind)
	}
	f := make([]uint32, 8)
	for i := range f {
		f[i] = byteOrder.Uint32(b[12+4*i:])
	}
	hd.dim, hd.n, hd.m, hd.m0, hd.efConstruction, hd.efSearch, hd.entry, hd.maxLevel = f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
	hd.upperLen = byteOrder.Uint64(b[44:])
	hd.seed = int64(byteOrder.Uint64(b[52:]))
	if r := byteOrder.Uint32(b[60:]); r != 0 {
		return hd, fmt.Errorf("%w: reserved header field is %d", ErrCorrupt, r)
	}
	if int(hd.dim) != dim {
		return hd, fmt.Errorf("%w: graph has %d dimensions, vectors have %d", ErrDimension, hd.dim, dim)
	}
	if int(hd.n) != n {
		return hd, fmt.Errorf("%w: graph has %d vectors, segment has %d", ErrCorrupt, hd.n, n)
	}
	var errs []error
	if hd.m < 2 || hd.m > maxM {
		errs = append(errs, fmt.Errorf("m %d (M)", hd.m))
	}
	if hd.efConstruction < 1 || hd.efConstruction > maxEf {
		errs = append(errs, fmt.Errorf("efConstruction %d", hd.efConstruction))
	}
	if hd.efSearch < 1 || hd.efSearch > maxEf {
		errs = append(errs, fmt.Errorf("efSearch %d", hd.efSearch))
	}
	if len(errs) > 0 {
		return hd, fmt.Errorf("%w: header out of range: %w", ErrCorrupt, errors.Join(errs...))
	}
	return hd, nil
}

// crcWriter counts and checksums what passes through it.
type crcWriter struct {
	w   io.Writer
	crc hash.Hash32
	n   int64
}

func newCRCWriter(w io.Writer) *crcWriter {
	return &crcWriter{w: w, crc: crc32.New(crcTable)}
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// finish appends the checksum of everything written so far.
func (c *crcWriter) finish() error {
	var b [4]byte
	byteOrder.PutUint32(b[:], c.crc.Sum32())
	_, err := c.w.Write(b[:])
	c.n += int64(len(b))
	return err
}

// crcReader checksums what is read through it.
type crcReader struct {
	r   io.Reader
	crc hash.Hash32
}

func newCRCReader(r io.Reader) *crcReader {
	return &crcReader{r: r, crc: crc32.New(crcTable)}
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	return n, err
}

// verify reads the trailer (outside the checksum) and compares.
func (c *crcReader) verify() error {
	want := c.crc.Sum32()
	var b [4]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		return fmt.Errorf("%w: reading checksum: %w", ErrCorrupt, eofIsUnexpected(err))
	}
	if got := byteOrder.Uint32(b[:]); got != want {
		return fmt.Errorf("%w: checksum mismatch (stored %08x, computed %08x)", ErrCorrupt, got, want)
	}
	return nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeUint32s writes s little-endian through a small reused buffer.
func writeUint32s(w io.Writer, s []uint32, buf []byte) error {
	for len(s) > 0 {
		k := min(len(s), len(buf)/4)
		for i, v := range s[:k] {
			byteOrder.PutUint32(buf[4*i:], v)
		}
		if _, err := w.Write(buf[:4*k]); err != nil {
			return err
		}
		s = s[k:]
	}
	return nil
}

// readUint32s fills s from r.
func readUint32s(r io.Reader, s []uint32, buf []byte) error {
	for len(s) > 0 {
		k := min(len(s), len(buf)/4)
		if _, err := io.ReadFull(r, buf[:4*k]); err != nil {
			return eofIsUnexpected(err)
		}
		for i := range s[:k] {
			s[i] = byteOrder.Uint32(buf[4*i:])
		}
		s = s[k:]
	}
	return nil
}

// WriteTo writes the graph (not its vectors) in the format described in
// doc.go and returns the bytes written. Body after the header: levels
// [n]uint8, the base slab [n*(M0+1)]uint32, the upper slab
// [upperLen]uint32. Node offsets into the upper slab are not stored: Read
// recomputes them from the levels. Safe to call concurrently with Search.
func (h *HNSW) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := newCRCWriter(bw)
	hd := header{
		kind: kindHNSW, dim: uint32(h.dim), n: uint32(h.n), m: uint32(h.m), m0: uint32(h.m0),
		efConstruction: uint32(h.efConstruction), efSearch: uint32(h.efSearch),
		entry: h.entry, maxLevel: uint32(h.maxLevel), upperLen: uint64(len(h.upper)), seed: h.seed,
	}
	err := func() error {
		if _, err := cw.Write(hd.encode()); err != nil {
			return err
		}
		if _, err := cw.Write(h.levels); err != nil {
			return err
		}
		buf := make([]byte, 1<<15)
		if err := writeUint32s(cw, h.base, buf); err != nil {
			return err
		}
		if err := writeUint32s(cw, h.upper, buf); err != nil {
			return err
		}
		if err := cw.finish(); err != nil {
			return err
		}
		return bw.Flush()
	}()
	n := cw.n - int64(bw.Buffered())
	if err != nil {
		return n, fmt.Errorf("graph: writing hnsw: %w", err)
	}
	return n, nil
}

// Read loads a graph written by (*HNSW).WriteTo over the segment's vectors
// (referenced, not copied). It checks the format version, that dim and the
// vector count match the header, the CRC-32C of the whole stream, and then
// every structural invariant Search relies on (neighbour IDs in range and
// present on their layer, counts within M, a valid entry point), so a
// corrupt or hostile input returns an error wrapping ErrCorrupt, ErrVersion
// or ErrDimension and never panics. Allocation is bounded by the size of
// the vector array, not by numbers read from the input. Read consumes
// exactly the bytes WriteTo wrote.
func Read(r io.Reader, vectors []float32, dim int) (*HNSW, error) {
	cr := newCRCReader(r)
	hd, err := readHeader(cr, kindHNSW, vectors, dim)
	if err != nil {
		return nil, err
	}
	if hd.m0 != 2*hd.m {
		return nil, fmt.Errorf("%w: M0 %d is not 2*M (%d)", ErrCorrupt, hd.m0, hd.m)
	}
	n := int(hd.n)
	if hd.maxLevel > maxLevels || (n == 0 && (hd.entry != 0 || hd.maxLevel != 0)) || (n > 0 && hd.entry >= hd.n) {
		return nil, fmt.Errorf("%w: entry point %d at level %d", ErrCorrupt, hd.entry, hd.maxLevel)
	}
	levels := make([]uint8, n)
	if _, err := io.ReadFull(cr, levels); err != nil {
		return nil, fmt.Errorf("%w: reading levels: %w", ErrCorrupt, eofIsUnexpected(err))
	}
	cfg := Config{M: int(hd.m), EfConstruction: int(hd.efConstruction), EfSearch: int(hd.efSearch), Seed: hd.seed}
	h := &HNSW{
		vectors: vectors, dim: dim, n: n, m: cfg.M, m0: 2 * cfg.M,
		efConstruction: cfg.EfConstruction, efSearch: cfg.EfSearch, seed: cfg.Seed,
		entry: hd.entry, maxLevel: int(hd.maxLevel), levels: levels,
	}
	for i, l := range levels {
		if int(l) > h.maxLevel {
			return nil, fmt.Errorf("%w: node %d at level %d above top level %d", ErrCorrupt, i, l, h.maxLevel)
		}
	}
	if n > 0 && int(levels[h.entry]) != h.maxLevel {
		return nil, fmt.Errorf("%w: entry point %d is not on the top level", ErrCorrupt, h.entry)
	}
	upperLen, err := h.layoutUpper()
	if err != nil || upperLen != hd.upperLen {
		return nil, fmt.Errorf("%w: upper slab has %d words, levels imply %d", ErrCorrupt, hd.upperLen, upperLen)
	}
	h.base = make([]uint32, n*(h.m0+1))
	h.upper = make([]uint32, upperLen)
	buf := make([]byte, 1<<15)
	if err := readUint32s(cr, h.base, buf); err != nil {
		return nil, fmt.Errorf("%w: reading base layer: %w", ErrCorrupt, err)
	}
	if err := readUint32s(cr, h.upper, buf); err != nil {
		return nil, fmt.Errorf("%w: reading upper layers: %w", ErrCorrupt, err)
	}
	if err := cr.verify(); err != nil {
		return nil, err
	}
	if err := h.checkStructure(); err != nil {
		return nil, err
	}
	h.initPool()
	return h, nil
}

// checkStructure verifies the invariants Search indexes by: every count is
// within its block, every neighbour ID is a node that exists on that layer.
func (h *HNSW) checkStructure() error {
	for i := range h.n {
		top := int(h.levels[i])
		for l := 0; l <= top; l++ {
			b := h.block(uint32(i), l)
			if int(b[0]) > h.maxNeighbors(l) {
				return fmt.Errorf("%w: node %d has %d neighbours on layer %d", ErrCorrupt, i, b[0], l)
			}
			for _, nb := range b[1 : 1+b[0]] {
				if nb >= uint32(h.n) || int(h.levels[nb]) < l {
					return fmt.Errorf("%w: node %d links to %d on layer %d", ErrCorrupt, i, nb, l)
				}
			}
		}
	}
	return nil
}
