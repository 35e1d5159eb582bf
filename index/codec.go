package index

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"unsafe"

	"github.com/facematch/facematch/index/quant"
)

const (
	segmentMagic = "FMSEG001"
	// segmentVersion is what writeSegment writes: 2, sectioned (doc.go). Version 1 objects (one
	// trailing checksum, no codes) are still read.
	segmentVersion = 2
	maxModelLen    = 1024
	// maxGraphLen bounds a graph section's length field.
	maxGraphLen = 1 << 34
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

// segmentHeader is the fixed start of a segment object.
type segmentHeader struct {
	Magic   [8]byte
	Version uint32
	Dim     uint32
	Count   uint64
	Seq     uint64
	ModelN  uint16
}

// sectionWriter writes through to w and hashes what it writes; end appends the section's
// CRC-32C and starts the next section.
type sectionWriter struct {
	w   io.Writer
	crc hash.Hash32
}

func (sw *sectionWriter) Write(p []byte) (int, error) {
	sw.crc.Write(p)
	return sw.w.Write(p)
}

func (sw *sectionWriter) end() error {
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], sw.crc.Sum32())
	sw.crc.Reset()
	_, err := sw.w.Write(sum[:])
	return err
}

func (sw *sectionWriter) writeLen(n int64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	_, err := sw.Write(b[:])
	return err
}

// writeSegment streams a sealed segment to w in format version 2 (doc.go): the body (header,
// ids, galleries, vectors), the graph and the codes, each section with its own CRC-32C, so
// damage to a derived part costs a rebuild of that part rather than the segment.
func writeSegment(w io.Writer, s *segment, model string) error {
	if !littleEndian {
		return errors.New("index: segment format needs a little-endian CPU")
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	sw := &sectionWriter{w: bw, crc: crc32.New(castagnoli)}
	var g annGraph
	if h := s.graph.Load(); h != nil {
		g = h.g
	}
	if err := writeBody(sw, s, model); err != nil {
		return fmt.Errorf("index: write segment: %w", err)
	}
	if err := writeGraphSection(sw, g); err != nil {
		return fmt.Errorf("index: write segment: %w", err)
	}
	if err := writeCodesSection(sw, codesOf(g)); err != nil {
		return fmt.Errorf("index: write segment: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("index: write segment: %w", err)
	}
	return nil
}

func writeBody(sw *sectionWriter, s *segment, model string) error {
	var hdr bytes.Buffer
	hdr.WriteString(segmentMagic)
	_ = binary.Write(&hdr, binary.LittleEndian, uint32(segmentVersion))
	_ = binary.Write(&hdr, binary.LittleEndian, uint32(s.dim))
	_ = binary.Write(&hdr, binary.LittleEndian, uint64(s.len()))
	_ = binary.Write(&hdr, binary.LittleEndian, s.seq)
	_ = binary.Write(&hdr, binary.LittleEndian, uint16(len(model)))
	hdr.WriteString(model)
	for _, b := range [][]byte{hdr.Bytes(), uint64Bytes(s.ids), uint64Bytes(s.galleries), floatBytes(s.vectors)} {
		if _, err := sw.Write(b); err != nil {
			return err
		}
	}
	return sw.end()
}

// writeGraphSection buffers the graph to learn its length (it is a fraction of the vectors).
func writeGraphSection(sw *sectionWriter, g annGraph) error {
	var buf bytes.Buffer
	if g != nil {
		if _, err := g.WriteTo(&buf); err != nil {
			return fmt.Errorf("graph: %w", err)
		}
	}
	if err := sw.writeLen(int64(buf.Len())); err != nil {
		return err
	}
	if _, err := sw.Write(buf.Bytes()); err != nil {
		return err
	}
	return sw.end()
}

// writeCodesSection streams the code block: its length is known in advance.
func writeCodesSection(sw *sectionWriter, c *quant.Codes) error {
	var n int64
	if c != nil {
		n = c.EncodedSize()
	}
	if err := sw.writeLen(n); err != nil {
		return err
	}
	if c != nil {
		got, err := c.WriteTo(sw)
		if err != nil {
			return fmt.Errorf("codes: %w", err)
		}
		if got != n {
			return fmt.Errorf("codes: wrote %d bytes, announced %d", got, n)
		}
	}
	return sw.end()
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

// sourceReader remembers the first error of the store's reader other than the end of the
// object: a read that fails mid-object (the store down) is not damage, and must not be
// "repaired" by a rebuild.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// readOptions says what readSegment expects and where the parts go.
type readOptions struct {
	model string
	dim   int
	// graph decodes the graph section (rebuilding it from the vectors when it is damaged) and,
	// when quantized, attaches the code section; nil checks neither.
	graph *GraphKind
	// vecs receives the vectors (streamed to a mapped file); nil keeps them in the heap.
	vecs *vecCache
}

// errSectionDamaged marks a damaged graph or code section: readSegment rebuilds what it held
// from the vectors and records it in segment.rewrite.
var errSectionDamaged = errors.New("index: damaged segment section")

func sectionDamage(section string, err error) error {
	return fmt.Errorf("%w: %s: %w", errSectionDamaged, section, err)
}

// readSegment parses a segment object written by writeSegment (format 2) or by the version 1
// format. The body (header, ids, galleries, vectors) must be whole: any damage there is
// ErrCorrupt, a segment of another model ErrModelMismatch. Damage in a version 2 graph or code
// section is not an error: what it held is rebuilt from the vectors (never a wrong answer) and
// segment.rewrite says why the object should be written again. A read that fails mid-object is
// returned as it is.
func readSegment(ctx context.Context, r io.Reader, o readOptions) (*segment, error) {
	if !littleEndian {
		return nil, errors.New("index: segment format needs a little-endian CPU")
	}
	src := &sourceReader{r: r}
	d := &segmentDecoder{o: o, src: src, cr: &crcReader{r: bufio.NewReaderSize(src, 1<<20), crc: crc32.New(castagnoli)}}
	s, err := d.read(ctx)
	if err != nil {
		if d.vw != nil {
			d.vw.abort()
		}
		if src.err != nil && !errors.Is(err, src.err) {
			return nil, fmt.Errorf("index: segment: %w (%w)", src.err, err)
		}
		return nil, err
	}
	return s, nil
}

// segmentDecoder is one readSegment call's state.
type segmentDecoder struct {
	o   readOptions
	src *sourceReader
	cr  *crcReader
	hdr segmentHeader
	s   *segment
	vw  *vecWriter // the vectors' cache file until mapped
	// codes are the ones read from the code section, nil when damaged, missing or not wanted.
	codes *quant.Codes
}

func corruptSegment(format string, args ...any) error {
	return fmt.Errorf("%w: segment: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

func (d *segmentDecoder) read(ctx context.Context) (*segment, error) {
	if err := d.readHeader(); err != nil {
		return nil, err
	}
	if err := d.readBody(); err != nil {
		return nil, err
	}
	if d.hdr.Version == 1 {
		return d.finishV1(ctx)
	}
	return d.finishV2(ctx)
}

func (d *segmentDecoder) readHeader() error {
	if err := binary.Read(d.cr, binary.LittleEndian, &d.hdr); err != nil {
		return corruptSegment("header: %v", err)
	}
	h := d.hdr
	if string(h.Magic[:]) != segmentMagic || (h.Version != 1 && h.Version != 2) {
		return corruptSegment("magic %q version %d", h.Magic[:], h.Version)
	}
	if int(h.Dim) != d.o.dim || h.ModelN > maxModelLen {
		return corruptSegment("dim %d (want %d), model length %d", h.Dim, d.o.dim, h.ModelN)
	}
	model := make([]byte, h.ModelN)
	if _, err := io.ReadFull(d.cr, model); err != nil {
		return corruptSegment("model: %v", err)
	}
	if string(model) != d.o.model {
		return fmt.Errorf("%w: segment holds model %q, index is %q", ErrModelMismatch, model, d.o.model)
	}
	// Bound the allocation by what a segment can hold before trusting the count.
	if h.Count > 1<<28 {
		return corruptSegment("count %d", h.Count)
	}
	return nil
}

// readBody reads the ids, galleries and vectors; the vectors go straight to a cache file when
// there is one, so a segment of millions of faces never has them in the heap.
func (d *segmentDecoder) readBody() error {
	n, dim := int(d.hdr.Count), d.o.dim
	// The ids are read as they arrive, so a corrupt count costs memory only in proportion to
	// the bytes really there; once they are, the count is believed for the rest.
	ids, err := readIDs(d.cr, n)
	if err != nil {
		return corruptSegment("ids: %v", err)
	}
	d.s = &segment{seq: d.hdr.Seq, dim: dim, ids: ids, galleries: make([]uint64, n)}
	if _, err := io.ReadFull(d.cr, uint64Bytes(d.s.galleries)); err != nil {
		return corruptSegment("galleries: %v", err)
	}
	if d.o.vecs == nil {
		d.s.vectors = make([]float32, n*dim)
		if _, err := io.ReadFull(d.cr, floatBytes(d.s.vectors)); err != nil {
			return corruptSegment("vectors: %v", err)
		}
		return nil
	}
	if d.vw, err = d.o.vecs.create(d.hdr.Seq); err != nil {
		return err
	}
	if _, err := io.CopyN(d.vw, d.cr, 4*int64(n)*int64(dim)); err != nil {
		if d.src.err != nil || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return fmt.Errorf("index: segment: vectors: %w", err)
		}
		return corruptSegment("vectors: %v", err)
	}
	return nil
}

// mapVectors maps the cache file once the body's checksum has passed.
func (d *segmentDecoder) mapVectors() error {
	if d.vw == nil {
		return nil
	}
	m, err := d.vw.finish()
	d.vw = nil
	if err != nil {
		return err
	}
	d.s.vectors, d.s.vm = m.data, m
	return nil
}

// endSection checks the checksum that closes a section and starts the next one.
func (d *segmentDecoder) endSection() error {
	want := d.cr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(d.cr.r, sum[:]); err != nil {
		return fmt.Errorf("checksum: %w", err)
	}
	d.cr.crc.Reset()
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		return fmt.Errorf("checksum %08x, computed %08x", got, want)
	}
	return nil
}

func (d *segmentDecoder) finishV2(ctx context.Context) (*segment, error) {
	if err := d.endSection(); err != nil {
		return nil, corruptSegment("body: %v", err)
	}
	if err := d.mapVectors(); err != nil {
		return nil, err
	}
	g, glen, gerr := d.readGraphSection()
	var cerr error
	if gerr != nil && errors.Is(gerr, errLost) {
		cerr = sectionDamage("codes", gerr)
	} else {
		d.codes, cerr = d.readCodesSection()
		if cerr == nil {
			cerr = d.expectEnd()
		}
	}
	if d.src.err != nil {
		return nil, fmt.Errorf("index: segment: %w", d.src.err)
	}
	// Any damage, even to a section this index does not use, gets the object rewritten whole.
	d.s.rewrite = errors.Join(gerr, cerr)
	if d.o.graph == nil || d.s.len() == 0 || (glen == 0 && gerr == nil) {
		return d.s, nil
	}
	return d.s, d.assemble(ctx, g, gerr)
}

// errLost means a section's length could not be trusted, so the sections after it cannot be
// found either.
var errLost = errors.New("section boundary lost")

// readGraphSection reads and checks the graph section; it decodes the graph only when the
// index uses one. The error, if any, is a section damage.
func (d *segmentDecoder) readGraphSection() (annGraph, uint64, error) {
	var glen uint64
	if err := binary.Read(d.cr, binary.LittleEndian, &glen); err != nil {
		return nil, 0, sectionDamage("graph", fmt.Errorf("length: %w: %v", errLost, err))
	}
	if glen > maxGraphLen {
		return nil, glen, sectionDamage("graph", fmt.Errorf("length %d: %w", glen, errLost))
	}
	lr := &io.LimitedReader{R: d.cr, N: int64(glen)}
	var g annGraph
	var derr error
	if d.o.graph != nil && glen > 0 {
		g, derr = d.o.graph.plain().Read(lr, d.s.vectors, d.o.dim)
	}
	rest, _ := io.Copy(io.Discard, lr)
	switch {
	case lr.N > 0:
		return nil, glen, sectionDamage("graph", fmt.Errorf("%d of %d bytes: %w", glen-uint64(lr.N), glen, errLost))
	case derr != nil:
		return nil, glen, sectionDamage("graph", derr)
	case g != nil && rest > 0:
		return nil, glen, sectionDamage("graph", fmt.Errorf("%d bytes after the graph", rest))
	}
	if err := d.endSection(); err != nil {
		return nil, glen, sectionDamage("graph", err)
	}
	return g, glen, nil
}

// readCodesSection reads and checks the code section; it decodes the codes only when the index
// walks codes, and checks that they fit (count, quantizer configuration).
func (d *segmentDecoder) readCodesSection() (*quant.Codes, error) {
	var clen uint64
	if err := binary.Read(d.cr, binary.LittleEndian, &clen); err != nil {
		return nil, sectionDamage("codes", fmt.Errorf("length: %v", err))
	}
	if clen > maxGraphLen {
		return nil, sectionDamage("codes", fmt.Errorf("length %d: %w", clen, errLost))
	}
	lr := &io.LimitedReader{R: d.cr, N: int64(clen)}
	var c *quant.Codes
	var derr error
	if q := d.quantizer(); q != nil && clen > 0 {
		c, derr = quant.ReadCodes(lr)
		if derr == nil {
			c.Trim()
		}
		if derr == nil && (c.Config() != q.Config() || c.Len() != d.s.len()) {
			derr = fmt.Errorf("%d codes under %+v, want %d under %+v", c.Len(), c.Config(), d.s.len(), q.Config())
		}
		if derr == nil {
			derr = spotCheck(c, q, d.s.vectors)
		}
	}
	rest, _ := io.Copy(io.Discard, lr)
	switch {
	case lr.N > 0:
		return nil, sectionDamage("codes", fmt.Errorf("%d of %d bytes: %w", clen-uint64(lr.N), clen, errLost))
	case derr != nil:
		return nil, sectionDamage("codes", derr)
	case c != nil && rest > 0:
		return nil, sectionDamage("codes", fmt.Errorf("%d bytes after the codes", rest))
	}
	if err := d.endSection(); err != nil {
		return nil, sectionDamage("codes", err)
	}
	return c, nil
}

// spotChecked is how many codes readSegment encodes again to compare with the stored ones.
const spotChecked = 8

// spotCheck encodes a few vectors, evenly spaced, and compares them with their stored codes:
// codes that pass every checksum but were made from other vectors (a writer's bug, a section
// from another object) would estimate wrongly. The comparison allows a step of one in a code
// byte and a relative 1e-4 in the parameters: an architecture that fuses multiply-adds may round
// a coordinate on the other side of a half. It reads spotChecked vectors.
func spotCheck(c *quant.Codes, q *quant.Quantizer, vectors []float32) error {
	n, dim := c.Len(), q.Config().Dim
	buf := make([]uint8, q.CodeSize())
	for k := range min(n, spotChecked) {
		i := k * n / min(n, spotChecked)
		p, err := q.Encode(buf, vectors[i*dim:(i+1)*dim])
		if err != nil {
			return fmt.Errorf("vector %d: %w", i, err)
		}
		code, stored := c.Code(i)
		if !near(p.Scale, stored.Scale) || !near(p.Offset, stored.Offset) {
			return fmt.Errorf("code %d is not its vector's: params %+v, encoding gives %+v", i, stored, p)
		}
		for j, b := range code {
			if d := int(b) - int(buf[j]); d < -1 || d > 1 {
				return fmt.Errorf("code %d is not its vector's: byte %d is %d, encoding gives %d", i, j, b, buf[j])
			}
		}
	}
	return nil
}

// near says whether a and b agree to a relative 1e-4 (or both are within 1e-6 of zero).
func near(a, b float32) bool {
	d := float64(a) - float64(b)
	return math.Abs(d) <= 1e-4*max(math.Abs(float64(a)), math.Abs(float64(b)))+1e-6
}

// expectEnd checks that nothing follows the last section.
func (d *segmentDecoder) expectEnd() error {
	var b [1]byte
	if n, _ := io.ReadFull(d.cr.r, b[:]); n > 0 {
		return sectionDamage("codes", errors.New("bytes after the last section"))
	}
	return nil
}

func (d *segmentDecoder) quantizer() *quant.Quantizer {
	if d.o.graph == nil {
		return nil
	}
	return d.o.graph.quantizer
}

// assemble gives the segment its graph: g, or one built again from the vectors when g is nil
// (its section was damaged: gerr); with the codes read, or encoded again when they were damaged
// or missing, which adds to segment.rewrite.
func (d *segmentDecoder) assemble(ctx context.Context, g annGraph, gerr error) error {
	if g == nil {
		// Built the way the persister builds one: a quantized kind on the codes read (encoded
		// again when they were damaged too), and with them.
		var err error
		if g, err = d.o.graph.buildFor(ctx, d.s.vectors, d.o.dim, d.codes); err == nil && codesOf(g) != nil {
			d.s.graph.Store(&graphHandle{g: g})
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("index: segment: rebuild graph after %v: %w", gerr, err)
			}
			return corruptSegment("rebuild graph after %v: %v", gerr, err)
		}
	}
	g, missing, err := d.o.graph.attachCodes(g, d.codes)
	if err != nil {
		// Encoding fails only on vectors no embedding has (NaN, out of range): the body's
		// checksum passed, but it does not hold what the index wrote.
		return corruptSegment("codes: %v", err)
	}
	if missing != "" && d.s.rewrite == nil {
		d.s.rewrite = errors.New(missing)
	}
	d.s.graph.Store(&graphHandle{g: g})
	return nil
}

// finishV1 reads the rest of a version 1 object: the graph and one checksum over everything.
// Any damage is ErrCorrupt (the checksum cannot tell where it is); a graph that passes it but
// does not decode (another kind's) is built again, and the codes, which version 1 lacks, are
// encoded.
func (d *segmentDecoder) finishV1(ctx context.Context) (*segment, error) {
	var glen uint64
	if err := binary.Read(d.cr, binary.LittleEndian, &glen); err != nil {
		return nil, corruptSegment("graph length: %v", err)
	}
	if glen > maxGraphLen {
		return nil, corruptSegment("graph length %d", glen)
	}
	// The buffer made up front is bounded by the bytes read so far (a graph takes less room
	// than the vectors it links, at any real dimension); beyond that it grows by the bytes read.
	// MinRead leaves room to see EOF without regrowing.
	var graph bytes.Buffer
	n := d.s.len()
	graph.Grow(int(min(glen, uint64(4*n*d.o.dim+16*n+1<<20))) + bytes.MinRead)
	if got, err := graph.ReadFrom(io.LimitReader(d.cr, int64(glen))); err != nil || uint64(got) != glen {
		return nil, corruptSegment("graph: %d of %d bytes: %v", got, glen, err)
	}
	if err := d.endSection(); err != nil {
		return nil, corruptSegment("%v", err)
	}
	if err := d.mapVectors(); err != nil {
		return nil, err
	}
	if glen == 0 || d.o.graph == nil {
		return d.s, nil
	}
	g, err := d.o.graph.plain().Read(bytes.NewReader(graph.Bytes()), d.s.vectors, d.o.dim)
	if err != nil {
		g, d.s.rewrite = nil, sectionDamage("graph", err)
	}
	return d.s, d.assemble(ctx, g, d.s.rewrite)
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

// checkSegmentObject reads a segment object through to its checksums without keeping it (memory
// does not grow with the object) and checks that it holds count faces of seq. Damage anywhere,
// in any section, is ErrCorrupt (it checks a fresh upload); a failing read (the store gone
// mid-object) is returned as it is.
func checkSegmentObject(r io.Reader, wantDim, count int, seq uint64) error {
	cr := &crcReader{r: bufio.NewReaderSize(r, 1<<20), crc: crc32.New(castagnoli)}
	fail := func(what string, err error) error {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrCorrupt) {
			return fmt.Errorf("segment: %s: %w", what, err)
		}
		return fmt.Errorf("%w: segment: %s: %v", ErrCorrupt, what, err)
	}
	var fixed segmentHeader
	if err := binary.Read(cr, binary.LittleEndian, &fixed); err != nil {
		return fail("header", err)
	}
	if string(fixed.Magic[:]) != segmentMagic || (fixed.Version != 1 && fixed.Version != 2) || int(fixed.Dim) != wantDim ||
		fixed.Count != uint64(count) || fixed.Seq != seq {
		return fail(fmt.Sprintf("header: magic %q version %d dim %d count %d seq %d, want dim %d count %d seq %d",
			fixed.Magic[:], fixed.Version, fixed.Dim, fixed.Count, fixed.Seq, wantDim, count, seq), nil)
	}
	if _, err := io.CopyN(io.Discard, cr, int64(fixed.ModelN)+int64(count)*int64(16+4*wantDim)); err != nil {
		return fail("body", err)
	}
	// Version 1 has one section after the body (the graph) and one checksum; version 2 closes
	// the body, the graph and the codes each with its own.
	lengths := 1
	if fixed.Version == 2 {
		if err := checkSum(cr); err != nil {
			return fail("body", err)
		}
		lengths = 2
	}
	for i := range lengths {
		var n uint64
		if err := binary.Read(cr, binary.LittleEndian, &n); err != nil {
			return fail("section length", err)
		}
		if n > maxGraphLen {
			return fail(fmt.Sprintf("section %d length %d", i, n), nil)
		}
		if _, err := io.CopyN(io.Discard, cr, int64(n)); err != nil {
			return fail("section", err)
		}
		if i < lengths-1 {
			if err := checkSum(cr); err != nil {
				return fail("section", err)
			}
		}
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

// checkSum reads the checksum closing a section and starts the next.
func checkSum(cr *crcReader) error {
	want := cr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(cr.r, sum[:]); err != nil {
		return err
	}
	cr.crc.Reset()
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		return fmt.Errorf("%w: checksum %08x, computed %08x", ErrCorrupt, got, want)
	}
	return nil
}
