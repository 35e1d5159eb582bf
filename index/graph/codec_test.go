package graph

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
)

func serialise(t testing.TB, g Graph) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := g.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

// TestRoundTrip: Read(WriteTo(g)) answers every query exactly as g does,
// and writes the same bytes again.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		impl   impl
		n, dim int
		ef     int
	}{
		{impls[0], 3000, 64, 40},
		// coder/hnsw picks a random entry node per search (map iteration),
		// so only an exhaustive search (ef >= n) is repeatable.
		{impls[1], 400, 64, 400},
	}
	for _, tt := range tests {
		t.Run(tt.impl.name, func(t *testing.T) {
			vectors, queries := faceLike(10, tt.n, 50, tt.dim, 5)
			g, err := tt.impl.build(context.Background(), vectors, tt.dim, Config{Seed: 2, EfSearch: 48})
			if err != nil {
				t.Fatal(err)
			}
			data := serialise(t, g)
			r := bytes.NewReader(data)
			g2, err := tt.impl.read(r, vectors, tt.dim)
			if err != nil {
				t.Fatal(err)
			}
			if r.Len() != 0 {
				t.Errorf("Read left %d bytes unread", r.Len())
			}
			if g2.Len() != g.Len() {
				t.Fatalf("Len %d, want %d", g2.Len(), g.Len())
			}
			for i := range 50 {
				q := queries[i*tt.dim : (i+1)*tt.dim]
				for _, ef := range []int{0, tt.ef} {
					a, err := g.Search(q, 10, ef)
					if err != nil {
						t.Fatal(err)
					}
					b, err := g2.Search(q, 10, ef)
					if err != nil {
						t.Fatal(err)
					}
					if ef == 0 && tt.impl.name == "coder" {
						continue // not exhaustive, see above
					}
					if fmt.Sprint(a) != fmt.Sprint(b) {
						t.Fatalf("query %d ef %d: read graph %v, built graph %v", i, ef, b, a)
					}
				}
			}
			if again := serialise(t, g2); !bytes.Equal(again, data) {
				t.Fatal("re-serialising the read graph gives different bytes")
			}
		})
	}
}

// TestCorruption flips each byte of a small serialised graph in turn and
// truncates it at every length: every variant must fail to read, without
// panicking.
func TestCorruption(t *testing.T) {
	const n, dim = 60, 8
	vectors, _ := faceLike(11, n, 0, dim, 5)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			g, err := im.build(context.Background(), vectors, dim, Config{M: 4, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			data := serialise(t, g)
			for i := range data {
				bad := bytes.Clone(data)
				bad[i] ^= 0x5a
				if _, err := im.read(bytes.NewReader(bad), vectors, dim); err == nil {
					t.Fatalf("flipped byte %d of %d: read succeeded", i, len(data))
				}
			}
			for l := range data {
				if _, err := im.read(bytes.NewReader(data[:l]), vectors, dim); err == nil {
					t.Fatalf("truncated to %d of %d bytes: read succeeded", l, len(data))
				}
			}
		})
	}
}

// fixCRC rewrites the trailer so structural checks, not the checksum, must
// catch the damage.
func fixCRC(data []byte) []byte {
	if len(data) < headerSize+4 {
		return data
	}
	data = bytes.Clone(data)
	body := data[:len(data)-4]
	binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.Checksum(body, crcTable))
	return data
}

func TestReadRejects(t *testing.T) {
	const n, dim = 50, 8
	vectors, _ := faceLike(12, n, 0, dim, 5)
	h, err := Build(context.Background(), vectors, dim, Config{M: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := BuildCoder(context.Background(), vectors, dim, Config{M: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	hdata, cdata := serialise(t, h), serialise(t, c)
	patch := func(data []byte, off int, v uint32) []byte {
		d := bytes.Clone(data)
		binary.LittleEndian.PutUint32(d[off:], v)
		return fixCRC(d)
	}
	base0 := headerSize + n // first word of node 0's base block: its count
	tests := []struct {
		name    string
		read    func(io.Reader, []float32, int) (Graph, error)
		data    []byte
		vectors []float32
		dim     int
		wantErr error
	}{
		{"hnsw ok", impls[0].read, hdata, vectors, dim, nil},
		{"coder ok", impls[1].read, cdata, vectors, dim, nil},
		{"empty", impls[0].read, nil, vectors, dim, ErrCorrupt},
		{"hnsw read as coder", impls[1].read, hdata, vectors, dim, ErrVersion},
		{"coder read as hnsw", impls[0].read, cdata, vectors, dim, ErrVersion},
		{"future version", impls[0].read, fixCRC(append(append([]byte{}, hdata[:8]...), append([]byte{2, 0}, hdata[10:]...)...)), vectors, dim, ErrVersion},
		{"wrong dim", impls[0].read, hdata, vectors, dim * 2, ErrDimension},
		{"wrong dim coder", impls[1].read, cdata, vectors, dim / 2, ErrDimension},
		{"fewer vectors", impls[0].read, hdata, vectors[:len(vectors)-dim], dim, ErrCorrupt},
		{"fewer vectors coder", impls[1].read, cdata, vectors[:len(vectors)-dim], dim, ErrCorrupt},
		{"count over M0", impls[0].read, patch(hdata, base0, 9), vectors, dim, ErrCorrupt},
		{"neighbour out of range", impls[0].read, patch(hdata, base0+4, n), vectors, dim, ErrCorrupt},
		{"entry out of range", impls[0].read, patch(hdata, 36, n), vectors, dim, ErrCorrupt},
		{"coder key out of range", impls[1].read, patch(cdata, headerSize+12+4, n+7), vectors, dim, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.read(bytes.NewReader(tt.data), tt.vectors, tt.dim)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr != nil) != (err != nil) {
				t.Fatalf("read error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// FuzzRead feeds arbitrary bytes to both readers, as they are and with the
// checksum repaired so the structural checks are reached. Neither may
// panic, and a graph that loads must be searchable.
func FuzzRead(f *testing.F) {
	const n, dim = 40, 4
	vectors, queries := faceLike(13, n, 1, dim, 4)
	for _, im := range impls {
		for _, m := range []int{2, 4} {
			g, err := im.build(context.Background(), vectors, dim, Config{M: m, Seed: 1})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(serialise(f, g))
		}
	}
	for _, nn := range []int{0, 1} {
		g, _ := Build(context.Background(), vectors[:nn*dim], dim, Config{})
		f.Add(serialise(f, g))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range [][]byte{data, fixCRC(data)} {
			for _, im := range impls {
				for _, nn := range []int{0, 1, n} {
					g, err := im.read(bytes.NewReader(d), vectors[:nn*dim], dim)
					if err != nil {
						continue
					}
					if g.Len() != nn {
						t.Fatalf("%s: Len %d, want %d", im.name, g.Len(), nn)
					}
					if _, err := g.Search(queries, 5, 0); err != nil {
						t.Fatalf("%s: search on a loaded graph: %v", im.name, err)
					}
				}
			}
		}
	})
}
