package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/facematch/facematch/index/graph"
)

// The readers of everything the index reads back (WAL files, segment objects, manifests) are
// fuzzed with arbitrary bytes, as they are and with their checksums repaired so the structural
// checks behind them are reached. None may panic; damage is ErrCorrupt (a segment of another
// model ErrModelMismatch); what reads back whole re-encodes to the same thing.
//
//	go test -run '^$' -fuzz '^FuzzWAL$' -fuzztime 30s ./index/

const fuzzDim = 4

// FuzzWAL: a log reads back as its valid prefix, which re-encodes byte for byte; replaying the
// file truncates it to that prefix, and a second replay reads the same records.
func FuzzWAL(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 1))
	var log []byte
	for _, rec := range []record{
		{kind: recInsert, lsn: 1, id: 10, gallery: 2, vector: unitVector(r, fuzzDim)},
		{kind: recInsert, lsn: 2, id: 11, gallery: 2, vector: unitVector(r, fuzzDim)},
		{kind: recDelete, lsn: 3, id: 10},
		{kind: recDeleteBatch, lsn: 4, ids: []uint64{11, 12, 13}},
	} {
		log = appendFrame(log, rec)
		f.Add(slices.Clone(log))
	}
	f.Add(log[:len(log)-3])
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range [][]byte{data, fixWALChecksums(data)} {
			recs, valid := checkWALRead(t, d)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, walName(1)), d, 0o600); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				n, err := replayWAL(dir, 1, fuzzDim, func(record) error { return nil })
				if err != nil || n != len(recs) {
					t.Fatalf("replay: %d records, %v; want %d", n, err, len(recs))
				}
				if fi, err := os.Stat(filepath.Join(dir, walName(1))); err != nil || fi.Size() != valid {
					t.Fatalf("after replay the file holds %d bytes (%v), want the valid %d", fi.Size(), err, valid)
				}
			}
		}
	})
}

// checkWALRead reads d as a log and checks what it gives; it returns the records and the length
// of the valid prefix.
func checkWALRead(t *testing.T, d []byte) ([]record, int64) {
	var recs []record
	valid, n, err := readWAL(bytes.NewReader(d), fuzzDim, func(r record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v is not ErrCorrupt", err)
	}
	if (err == nil) != (valid == int64(len(d))) || valid > int64(len(d)) || n != len(recs) {
		t.Fatalf("valid %d of %d bytes, %d records (%d seen), err %v", valid, len(d), n, len(recs), err)
	}
	var again []byte
	for _, r := range recs {
		switch {
		case r.kind == recInsert && len(r.vector) == fuzzDim:
		case r.kind == recDelete:
		case r.kind == recDeleteBatch && len(r.ids) >= 1 && len(r.ids) <= maxBatchIDs:
		default:
			t.Fatalf("malformed record read: %+v", r)
		}
		again = appendFrame(again, r)
	}
	if !bytes.Equal(again, d[:valid]) {
		t.Fatal("the records read do not re-encode to the bytes they came from")
	}
	return recs, valid
}

// fixWALChecksums rewrites the checksum of every whole frame in d.
func fixWALChecksums(d []byte) []byte {
	d = slices.Clone(d)
	for off := 0; off+8 <= len(d); {
		size := int(binary.LittleEndian.Uint32(d[off:]))
		if size > len(d)-off-8 {
			break
		}
		binary.LittleEndian.PutUint32(d[off+4:], crc32.Checksum(d[off+8:off+8+size], castagnoli))
		off += 8 + size
	}
	return d
}

// fuzzGraphs are the ways a segment object is read: without a graph, with each graph kind, and
// walked on codes.
func fuzzGraphs(tb testing.TB) []struct {
	name string
	kind *GraphKind
} {
	q, err := graph.NewQuantizer(fuzzDim)
	if err != nil {
		tb.Fatal(err)
	}
	return []struct {
		name string
		kind *GraphKind
	}{
		{"none", nil},
		{"hnsw", HNSWGraph(graph.Config{})},
		{"coder", CoderGraph(graph.Config{})},
		{"quantized", HNSWGraph(graph.Config{}).quantized(q)},
	}
}

// FuzzSegment: a segment object reads back with consistent lengths and a searchable graph, and
// writes back to an object that reads the same. Seeds are objects of both format versions, with
// and without graph and codes; damage to a version 2 graph or code section is repaired, never
// an error.
func FuzzSegment(f *testing.F) {
	r := rand.New(rand.NewPCG(2, 2))
	graphs := fuzzGraphs(f)
	for _, n := range []int{0, 1, 30} {
		for _, g := range graphs {
			s := newSegment(7, fuzzDim)
			for i := range n {
				s.add(uint64(100+i), uint64(i%3), unitVector(r, fuzzDim))
			}
			if g.kind != nil && n > 0 {
				built, err := g.kind.Build(context.Background(), s.vectors, fuzzDim)
				if err != nil {
					f.Fatal(err)
				}
				s.graph.Store(&graphHandle{g: built})
			}
			for _, write := range []func(io.Writer, *segment, string) error{writeSegment, writeSegmentV1} {
				var buf bytes.Buffer
				if err := write(&buf, s, testModel); err != nil {
					f.Fatal(err)
				}
				f.Add(buf.Bytes())
			}
		}
	}
	query := unitVector(r, fuzzDim)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range [][]byte{data, fixSegmentChecksums(data, fuzzDim)} {
			for _, g := range graphs {
				checkSegmentRead(t, d, g.name, g.kind, query)
			}
		}
	})
}

// checkSegmentRead reads d as a segment object with kind and checks what it gives.
func checkSegmentRead(t *testing.T, d []byte, name string, kind *GraphKind, query []float32) {
	ctx := context.Background()
	opts := readOptions{model: testModel, dim: fuzzDim, graph: kind}
	s, err := readSegment(ctx, bytes.NewReader(d), opts)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrModelMismatch) {
			t.Fatalf("%s: error %v is neither ErrCorrupt nor ErrModelMismatch", name, err)
		}
		return
	}
	if len(s.galleries) != s.len() || len(s.vectors) != s.len()*fuzzDim {
		t.Fatalf("%s: %d ids, %d galleries, %d floats", name, s.len(), len(s.galleries), len(s.vectors))
	}
	if s.rewrite != nil && !errors.Is(s.rewrite, errSectionDamaged) && (kind == nil || kind.quantizer == nil) {
		t.Fatalf("%s: marked for rewrite (%v) although nothing was damaged", name, s.rewrite)
	}
	if h := s.graph.Load(); h != nil {
		if _, err := h.g.Search(query, 3, 10); err != nil {
			t.Fatalf("%s: search on a loaded graph: %v", name, err)
		}
		if kind.quantizer != nil && codesOf(h.g) == nil {
			t.Fatalf("%s: a quantized read gave a graph without codes (%T)", name, h.g)
		}
	}
	var buf bytes.Buffer
	if err := writeSegment(&buf, s, testModel); err != nil {
		t.Fatal(err)
	}
	if err := checkSegmentObject(bytes.NewReader(buf.Bytes()), fuzzDim, s.len(), s.seq); err != nil {
		t.Fatalf("%s: a written segment fails its check: %v", name, err)
	}
	back, err := readSegment(ctx, &buf, opts)
	if err != nil || back.seq != s.seq || !slices.Equal(back.ids, s.ids) || !slices.Equal(back.galleries, s.galleries) ||
		!bytes.Equal(floatBytes(back.vectors), floatBytes(s.vectors)) || back.rewrite != nil {
		t.Fatalf("%s: a segment read does not write back the same (%v, rewrite %v)", name, err, back.rewrite)
	}
}

// fixSegmentChecksums rewrites the checksums of d: the trailing one of a version 1 object, each
// section's of a version 2 one (as far as its lengths can be followed).
func fixSegmentChecksums(d []byte, dim int) []byte {
	const fixed = 8 + 4 + 4 + 8 + 8 + 2
	if len(d) < fixed {
		return d
	}
	d = slices.Clone(d)
	if binary.LittleEndian.Uint32(d[8:]) != 2 {
		if len(d) >= 4 {
			binary.LittleEndian.PutUint32(d[len(d)-4:], crc32.Checksum(d[:len(d)-4], castagnoli))
		}
		return d
	}
	count := binary.LittleEndian.Uint64(d[16:])
	modelN := uint64(binary.LittleEndian.Uint16(d[32:]))
	if count > 1<<20 {
		return d
	}
	end := fixed + modelN + count*(16+4*uint64(dim))
	start := uint64(0)
	for section := 0; section < 3; section++ {
		if end+4 > uint64(len(d)) {
			return d
		}
		binary.LittleEndian.PutUint32(d[end:], crc32.Checksum(d[start:end], castagnoli))
		start = end + 4
		if start+8 > uint64(len(d)) {
			return d
		}
		n := binary.LittleEndian.Uint64(d[start:])
		if n > uint64(len(d)) {
			return d
		}
		end = start + 8 + n
	}
	return d
}

// FuzzManifest: a manifest that decodes encodes back to one that decodes the same.
func FuzzManifest(f *testing.F) {
	for _, m := range []*manifest{
		{Format: manifestFormat, Model: testModel, Dim: 32},
		{Format: manifestFormat, Generation: 9, Model: testModel, Dim: 32, CoveredLSN: 400, NextSeq: 3, SourceSeq: 812,
			Segments:   []manifestSegment{{Key: segmentKey("index/x", 1, 4), Seq: 1, Count: 100}, {Key: writerSegmentKey("index/x", 2, 9, "0a1b2c3d"), Seq: 2, Count: 7}},
			Tombstones: []uint64{5, 17, 1 << 40}},
	} {
		data, err := encodeManifest(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		body, _, _ := bytes.Cut(data, []byte("\ncrc32c:"))
		for _, d := range [][]byte{data, fmt.Appendf(slices.Clone(body), "\ncrc32c:%08x\n", crc32.Checksum(body, castagnoli))} {
			m, err := decodeManifest(d)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v is not ErrCorrupt", err)
				}
				continue
			}
			again, err := encodeManifest(m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := decodeManifest(again)
			if err != nil || !reflect.DeepEqual(back, m) {
				t.Fatalf("a decoded manifest does not encode back the same: %+v, %+v, %v", m, back, err)
			}
		}
	})
}

// TestSegmentReadMemoryFollowsTheBytes: a corrupt face count or graph length in a small object
// costs memory in proportion to the object, not to the number it claims.
func TestSegmentReadMemoryFollowsTheBytes(t *testing.T) {
	s := newSegment(1, fuzzDim)
	s.add(5, 1, unitVector(rand.New(rand.NewPCG(3, 3)), fuzzDim))
	var buf bytes.Buffer
	if err := writeSegment(&buf, s, testModel); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	countAt := len(segmentMagic) + 4 + 4
	graphLenAt := countAt + 8 + 8 + 2 + len(testModel) + 8 + 8 + 4*fuzzDim + 4
	patch := func(at int, v uint64) []byte {
		d := slices.Clone(good)
		binary.LittleEndian.PutUint64(d[at:], v)
		return fixSegmentChecksums(d, fuzzDim)
	}
	tests := []struct {
		name    string
		data    []byte
		corrupt bool // else the damage is in a derived section, rebuilt
	}{
		{"count 2^28", patch(countAt, 1<<28), true},
		{"graph length 2^34", patch(graphLenAt, 1<<34), false},
		{"graph length 2^33", patch(graphLenAt, 1<<33), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := readSegment(context.Background(), bytes.NewReader(tt.data), readOptions{model: testModel, dim: fuzzDim, graph: HNSWGraph(graph.Config{})})
			runtime.ReadMemStats(&after)
			if tt.corrupt != errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt: %v", err, tt.corrupt)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
				t.Fatalf("reading a %d-byte object allocated %d MiB", len(tt.data), n>>20)
			}
		})
	}
}
