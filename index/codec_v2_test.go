package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/index/quant"
)

// sectionOffsets locates a version 2 object's sections: where the graph and code sections
// start (their length fields) and where each one's bytes begin.
type sectionOffsets struct{ graphAt, graphBytes, codesAt, codesBytes, codesLen int }

func findSections(t *testing.T, d []byte, dim int) sectionOffsets {
	t.Helper()
	var o sectionOffsets
	o.graphAt = segmentBodyEnd(d, dim)
	o.graphBytes = o.graphAt + 8
	o.codesAt = o.graphBytes + int(binary.LittleEndian.Uint64(d[o.graphAt:])) + 4
	o.codesBytes = o.codesAt + 8
	o.codesLen = int(binary.LittleEndian.Uint64(d[o.codesAt:]))
	if o.codesBytes+o.codesLen+4 != len(d) {
		t.Fatalf("sections do not add up: %+v, %d bytes", o, len(d))
	}
	return o
}

// quantizedSegment builds a segment of n random faces walked on codes and its object.
func quantizedSegment(t *testing.T, n, dim int) (*GraphKind, []byte) {
	t.Helper()
	q, err := graph.NewQuantizer(dim)
	if err != nil {
		t.Fatal(err)
	}
	kind := HNSWGraph(graph.Config{M: 8, EfConstruction: 64, Seed: 1}).quantized(q)
	r := rand.New(rand.NewPCG(41, 42))
	s := newSegment(3, dim)
	for i := range n {
		s.add(uint64(1000+i), uint64(i%2), unitVector(r, dim))
	}
	g, err := kind.Build(context.Background(), s.vectors, dim)
	if err != nil {
		t.Fatal(err)
	}
	s.graph.Store(&graphHandle{g: g})
	var buf bytes.Buffer
	if err := writeSegment(&buf, s, testModel); err != nil {
		t.Fatal(err)
	}
	return kind, buf.Bytes()
}

// TestSegmentSectionDamage: damage to a version 2 object's graph or code section (a flipped
// bit, a cut, codes of another quantizer or count) is not an error: readSegment rebuilds what
// the section held from the vectors, marks the segment for rewriting, and searches answer
// exactly as before the damage. Damage to the body is ErrCorrupt.
func TestSegmentSectionDamage(t *testing.T) {
	const n, dim = 300, 32
	kind, good := quantizedSegment(t, n, dim)
	o := findSections(t, good, dim)
	ctx := context.Background()
	opts := readOptions{model: testModel, dim: dim, graph: kind}
	r := rand.New(rand.NewPCG(43, 44))
	queries := make([][]float32, 20)
	for i := range queries {
		queries[i] = unitVector(r, dim)
	}
	answers := func(s *segment) [][]graph.Neighbor {
		var out [][]graph.Neighbor
		for _, q := range queries {
			ns, err := s.graph.Load().g.Search(q, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ns)
		}
		return out
	}
	clean, err := readSegment(ctx, bytes.NewReader(good), opts)
	if err != nil || clean.rewrite != nil {
		t.Fatalf("the undamaged object: %v, rewrite %v", err, clean.rewrite)
	}
	want := answers(clean)

	flip := func(at int) []byte {
		d := slices.Clone(good)
		d[at] ^= 0x08
		return d
	}
	// codesOfVectors is good with its code section replaced by codes of vectors under cfg.
	codesOfVectors := func(cfg quant.Config, vectors []float32) []byte {
		q, err := quant.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		codes, err := q.EncodeAll(vectors)
		if err != nil {
			t.Fatal(err)
		}
		var block bytes.Buffer
		if _, err := codes.WriteTo(&block); err != nil {
			t.Fatal(err)
		}
		d := slices.Clone(good[:o.codesAt])
		d = binary.LittleEndian.AppendUint64(d, uint64(block.Len()))
		d = append(d, block.Bytes()...)
		return fixSegmentChecksums(append(d, 0, 0, 0, 0), dim)
	}
	otherCodes := func(cfg quant.Config, count int) []byte {
		return codesOfVectors(cfg, clean.vectors[:count*dim])
	}
	var v1 bytes.Buffer
	if err := writeSegmentV1(&v1, clean, testModel); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		damaged bool // the rewrite reason is a damaged section (else: codes missing)
		corrupt bool
		rebuilt bool // the graph is built again (a parallel build: the same answers, other bytes)
	}{
		{"graph bit flipped", flip(o.graphBytes + 100), true, false, true},
		{"graph length flipped", flip(o.graphAt), true, false, true},
		{"graph checksum flipped", flip(o.codesAt - 2), true, false, true},
		{"code bit flipped", flip(o.codesBytes + o.codesLen/2), true, false, false},
		{"code params flipped", flip(o.codesBytes + 40), true, false, false},
		{"code checksum flipped", flip(len(good) - 1), true, false, false},
		{"cut in the codes", good[:o.codesBytes+o.codesLen/3], true, false, false},
		{"cut in the graph", good[:o.graphBytes+50], true, false, true},
		{"cut after the body", good[:o.graphAt], true, false, true},
		{"bytes appended", append(slices.Clone(good), 1, 2, 3), true, false, false},
		{"codes of another seed", otherCodes(quant.Config{Kind: quant.Rotated8, Dim: dim, Seed: 7}, n), true, false, false},
		{"codes unrotated", otherCodes(quant.Config{Kind: quant.Plain8, Dim: dim}, n), true, false, false},
		{"too few codes", otherCodes(kind.quantizer.Config(), n-1), true, false, false},
		{"codes of other vectors", codesOfVectors(kind.quantizer.Config(), otherVectors(n, dim)), true, false, false},
		{"version 1 object", v1.Bytes(), false, false, false},
		{"vector bit flipped", flip(o.graphAt - 100), false, true, false},
		{"body checksum flipped", flip(o.graphAt - 1), false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := readSegment(ctx, bytes.NewReader(tt.data), opts)
			if tt.corrupt {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.rewrite == nil || errors.Is(s.rewrite, errSectionDamaged) != tt.damaged {
				t.Fatalf("rewrite reason %v, want a damaged section: %v", s.rewrite, tt.damaged)
			}
			if codesOf(s.graph.Load().g) == nil {
				t.Fatal("the repaired segment walks no codes")
			}
			if got := answers(s); !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("answers after repair differ from the undamaged segment's")
			}
			var again bytes.Buffer
			if err := writeSegment(&again, s, testModel); err != nil {
				t.Fatal(err)
			}
			if !tt.rebuilt && !bytes.Equal(again.Bytes(), good) {
				t.Fatal("the repaired segment does not write the undamaged object")
			}
			back, err := readSegment(ctx, &again, opts)
			if err != nil || back.rewrite != nil {
				t.Fatalf("the repaired segment's object reads back with %v, rewrite %v", err, back.rewrite)
			}
		})
	}
}

// otherVectors are n random unit vectors of another stream than the segments'.
func otherVectors(n, dim int) []float32 {
	r := rand.New(rand.NewPCG(57, 58))
	out := make([]float32, 0, n*dim)
	for range n {
		out = append(out, unitVector(r, dim)...)
	}
	return out
}
