package index

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
	"unsafe"
)

const (
	segmentMagic   = "FMSEG001"
	segmentVersion = 1
	maxModelLen    = 1024
)

// ErrCorrupt means a segment object, manifest or WAL record failed its checksum or structure
// checks.
var ErrCorrupt = errors.New("index: corrupt data")

// littleEndian is checked once: vectors are written and read as raw float32 memory, which is
// only the documented little-endian format on little-endian CPUs (amd64, arm64).
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func floatBytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

func uint64Bytes(v []uint64) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 8*len(v))
}

// writeSegment streams a sealed segment (and its graph, when built) to w with a trailing CRC.
func writeSegment(w io.Writer, s *segment, model string) error {
	if !littleEndian {
		return errors.New("index: segment format needs a little-endian CPU")
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	var hdr bytes.Buffer
	hdr.WriteString(segmentMagic)
	_ = binary.Write(&hdr, binary.LittleEndian, uint32(segmentVersion))
	_ = binary.Write(&hdr, binary.LittleEndian, uint32(s.dim))
	_ = binary.Write(&hdr, binary.LittleEndian, uint64(s.len()))
	_ = binary.Write(&hdr, binary.LittleEndian, s.seq)
	_ = binary.Write(&hdr, binary.LittleEndian, uint16(len(model)))
	hdr.WriteString(model)
	for _, b := range [][]byte{hdr.Bytes(), uint64Bytes(s.ids), uint64Bytes(s.galleries), floatBytes(s.vectors)} {
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("index: write segment: %w", err)
		}
	}
	var graphBytes bytes.Buffer
	if h := s.graph.Load(); h != nil {
		if _, err := h.g.WriteTo(&graphBytes); err != nil {
			return fmt.Errorf("index: write graph: %w", err)
		}
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(graphBytes.Len()))
	if _, err := bw.Write(n[:]); err != nil {
		return fmt.Errorf("index: write segment: %w", err)
	}
	if _, err := bw.Write(graphBytes.Bytes()); err != nil {
		return fmt.Errorf("index: write segment: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("index: write segment: %w", err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("index: write segment: %w", err)
	}
	return nil
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

// readSegment parses a segment object written by writeSegment. wantModel and wantDim must match;
// readGraph, when not nil, rebuilds the graph from its bytes. Any damage is ErrCorrupt.
func readSegment(r io.Reader, wantModel string, wantDim int, readGraph graphReader) (*segment, error) {
	if !littleEndian {
		return nil, errors.New("index: segment format needs a little-endian CPU")
	}
	cr := &crcReader{r: bufio.NewReaderSize(r, 1<<20), crc: crc32.New(castagnoli)}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: segment: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	var fixed struct {
		Magic   [8]byte
		Version uint32
		Dim     uint32
		Count   uint64
		Seq     uint64
		ModelN  uint16
	}
	if err := binary.Read(cr, binary.LittleEndian, &fixed); err != nil {
		return nil, corrupt("header: %v", err)
	}
	if string(fixed.Magic[:]) != segmentMagic || fixed.Version != segmentVersion {
		return nil, corrupt("magic %q version %d", fixed.Magic[:], fixed.Version)
	}
	if int(fixed.Dim) != wantDim || fixed.ModelN > maxModelLen {
		return nil, corrupt("dim %d (want %d), model length %d", fixed.Dim, wantDim, fixed.ModelN)
	}
	model := make([]byte, fixed.ModelN)
	if _, err := io.ReadFull(cr, model); err != nil {
		return nil, corrupt("model: %v", err)
	}
	if string(model) != wantModel {
		return nil, fmt.Errorf("%w: segment holds model %q, index is %q", ErrModelMismatch, model, wantModel)
	}
	// Bound the allocation by what a segment can hold before trusting the count.
	if fixed.Count > 1<<28 {
		return nil, corrupt("count %d", fixed.Count)
	}
	n := int(fixed.Count)
	// The ids are read as they arrive, so a corrupt count costs memory only in proportion to
	// the bytes really there; once they are, the count is believed for the rest.
	ids, err := readIDs(cr, n)
	if err != nil {
		return nil, corrupt("ids: %v", err)
	}
	s := &segment{seq: fixed.Seq, dim: wantDim, ids: ids, galleries: make([]uint64, n), vectors: make([]float32, n*wantDim)}
	for _, b := range [][]byte{uint64Bytes(s.galleries), floatBytes(s.vectors)} {
		if _, err := io.ReadFull(cr, b); err != nil {
			return nil, corrupt("body: %v", err)
		}
	}
	var glen uint64
	if err := binary.Read(cr, binary.LittleEndian, &glen); err != nil {
		return nil, corrupt("graph length: %v", err)
	}
	if glen > 1<<34 {
		return nil, corrupt("graph length %d", glen)
	}
	// Likewise the graph: the buffer made up front is bounded by the bytes read so far (a graph
	// takes less room than the vectors it links, at any real dimension); beyond that it grows by
	// the bytes read. MinRead leaves room to see EOF without regrowing.
	var graph bytes.Buffer
	graph.Grow(int(min(glen, uint64(4*len(s.vectors)+16*n+1<<20))) + bytes.MinRead)
	if got, err := graph.ReadFrom(io.LimitReader(cr, int64(glen))); err != nil || uint64(got) != glen {
		return nil, corrupt("graph: %d of %d bytes: %v", got, glen, err)
	}
	graphBytes := graph.Bytes()
	want := cr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(cr.r, sum[:]); err != nil {
		return nil, corrupt("checksum: %v", err)
	}
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		return nil, corrupt("checksum %08x, computed %08x", got, want)
	}
	if glen > 0 && readGraph != nil {
		g, err := readGraph(bytes.NewReader(graphBytes), s.vectors, wantDim)
		if err != nil {
			return nil, corrupt("graph: %v", err)
		}
		s.graph.Store(&graphHandle{g: g})
	}
	return s, nil
}

// readIDs reads n ids, growing the slice by what has been read (64Ki ids at a time), and
// returns it with exactly n elements of capacity.
func readIDs(r io.Reader, n int) ([]uint64, error) {
	const chunk = 1 << 16
	ids := make([]uint64, 0, min(n, chunk))
	for len(ids) < n {
		m := min(chunk, n-len(ids))
		ids = slices.Grow(ids, m)
		if _, err := io.ReadFull(r, uint64Bytes(ids[len(ids):len(ids)+m])); err != nil {
			return nil, err
		}
		ids = ids[:len(ids)+m]
	}
	if cap(ids) > n {
		// A sealed segment lives long: give back what the doubling left unused.
		ids = append(make([]uint64, 0, n), ids...)
	}
	return ids, nil
}

// checkSegmentObject reads a segment object through to its checksum without keeping it (memory
// does not grow with the object) and checks that it holds count faces of seq. Damage is
// ErrCorrupt; a failing read (the store gone mid-object) is returned as it is.
func checkSegmentObject(r io.Reader, wantDim, count int, seq uint64) error {
	cr := &crcReader{r: bufio.NewReaderSize(r, 1<<20), crc: crc32.New(castagnoli)}
	fail := func(what string, err error) error {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("segment: %s: %w", what, err)
		}
		return fmt.Errorf("%w: segment: %s: %v", ErrCorrupt, what, err)
	}
	var fixed struct {
		Magic   [8]byte
		Version uint32
		Dim     uint32
		Count   uint64
		Seq     uint64
		ModelN  uint16
	}
	if err := binary.Read(cr, binary.LittleEndian, &fixed); err != nil {
		return fail("header", err)
	}
	if string(fixed.Magic[:]) != segmentMagic || fixed.Version != segmentVersion || int(fixed.Dim) != wantDim ||
		fixed.Count != uint64(count) || fixed.Seq != seq {
		return fail(fmt.Sprintf("header: magic %q version %d dim %d count %d seq %d, want dim %d count %d seq %d",
			fixed.Magic[:], fixed.Version, fixed.Dim, fixed.Count, fixed.Seq, wantDim, count, seq), nil)
	}
	if _, err := io.CopyN(io.Discard, cr, int64(fixed.ModelN)+int64(count)*int64(16+4*wantDim)); err != nil {
		return fail("body", err)
	}
	var glen uint64
	if err := binary.Read(cr, binary.LittleEndian, &glen); err != nil {
		return fail("graph length", err)
	}
	if glen > 1<<34 {
		return fail(fmt.Sprintf("graph length %d", glen), nil)
	}
	if _, err := io.CopyN(io.Discard, cr, int64(glen)); err != nil {
		return fail("graph", err)
	}
	want := cr.crc.Sum32()
	var sum [5]byte // one byte more than the checksum: trailing bytes are damage too
	n, err := io.ReadFull(cr.r, sum[:])
	if n != 4 || binary.LittleEndian.Uint32(sum[:4]) != want {
		if n == 5 {
			return fail("bytes after the checksum", nil)
		}
		return fail(fmt.Sprintf("checksum: %d of 4 bytes, computed %08x", n, want), err)
	}
	return nil
}
