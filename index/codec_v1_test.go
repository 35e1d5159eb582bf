package index

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// writeSegmentV1 is writeSegment as it was in format version 1 (one trailing checksum, no
// codes), kept so the tests can check that old objects still open.
func writeSegmentV1(w io.Writer, s *segment, model string) error {
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	var hdr bytes.Buffer
	hdr.WriteString(segmentMagic)
	_ = binary.Write(&hdr, binary.LittleEndian, uint32(1))
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
