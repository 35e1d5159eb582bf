package quant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"testing"
)

func sampleCodes(t testing.TB, cfg Config, n int) *Codes {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(n), 11))
	q := mustNew(t, cfg)
	c := q.NewCodes(n)
	for range n {
		if err := c.Append(unitVector(r, cfg.Dim)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func encoded(t testing.TB, c *Codes) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := c.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d bytes reported, %d written, %v", n, buf.Len(), err)
	}
	return buf.Bytes()
}

func sameCodes(a, b *Codes) bool {
	if a.Config() != b.Config() || a.Len() != b.Len() {
		return false
	}
	for i := range a.Len() {
		ca, pa := a.Code(i)
		cb, pb := b.Code(i)
		if pa != pb || !bytes.Equal(ca, cb) {
			return false
		}
	}
	return true
}

func TestCodesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		n   int
	}{
		{Config{Kind: Rotated8, Dim: 640, Seed: 0xfeed}, 30},
		{Config{Kind: Plain8, Dim: 512}, 7},
		{Config{Kind: Rotated8, Dim: 3, Seed: 1}, 0},
	} {
		c := sampleCodes(t, tc.cfg, tc.n)
		data := encoded(t, c)
		if want := headerSize + tc.n*(paramsSize+tc.cfg.Dim) + 4; len(data) != want {
			t.Errorf("%v: %d bytes, want %d", tc.cfg, len(data), want)
		}
		// Trailing bytes belong to whatever follows the block: ReadCodes leaves them unread.
		r := bytes.NewReader(append(data, 0xAA, 0xBB))
		got, err := ReadCodes(r)
		if err != nil {
			t.Fatalf("%v: %v", tc.cfg, err)
		}
		if !sameCodes(c, got) || r.Len() != 2 {
			t.Errorf("%v: read back different codes, or read past the block (%d bytes left)", tc.cfg, r.Len())
		}
		// The rebuilt quantizer rotates the same way, so a query prepared by it agrees.
		var q1, q2 Query
		v := unitVector(rand.New(rand.NewPCG(1, 1)), tc.cfg.Dim)
		c.Quantizer().Prepare(&q1, v)
		got.Quantizer().Prepare(&q2, v)
		for i := range c.Len() {
			if a, b := c.Similarity(&q1, i), got.Similarity(&q2, i); a != b {
				t.Errorf("%v: vector %d scores %g before the round trip and %g after", tc.cfg, i, a, b)
			}
		}
	}
}

// TestEveryDamageIsCaught truncates the block at every length and flips every byte: each must
// give ErrCorrupt (or ErrVersion for the version and kind fields), never a panic or codes.
func TestEveryDamageIsCaught(t *testing.T) {
	data := encoded(t, sampleCodes(t, Config{Kind: Rotated8, Dim: 24, Seed: 5}, 4))
	for n := range len(data) {
		if _, err := ReadCodes(bytes.NewReader(data[:n])); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: %v", n, err)
		}
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x10
		_, err := ReadCodes(bytes.NewReader(bad))
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Errorf("byte %d flipped: %v", i, err)
		}
		if (i == 8 || i == 12) && !errors.Is(err, ErrVersion) {
			t.Errorf("byte %d (version or kind) flipped: %v, want ErrVersion", i, err)
		}
	}
}

// TestConsistencyBeyondTheChecksum writes blocks whose checksum is right but whose content
// would answer wrongly: non-finite or negative scales, a Sum that does not match its code.
func TestConsistencyBeyondTheChecksum(t *testing.T) {
	c := sampleCodes(t, Config{Kind: Plain8, Dim: 16}, 2)
	for name, damage := range map[string]func(*Codes){
		"NaN scale":      func(c *Codes) { c.params[1].Scale = float32(math.NaN()) },
		"infinite":       func(c *Codes) { c.params[0].Offset = float32(math.Inf(1)) },
		"negative scale": func(c *Codes) { c.params[0].Scale = -1 },
		"huge scale":     func(c *Codes) { c.params[0].Scale = 1e30 },
		"huge offset":    func(c *Codes) { c.params[1].Offset = -1e20 },
		"wrong sum":      func(c *Codes) { c.params[1].Sum++ },
	} {
		bad := &Codes{q: c.q, params: append([]Params(nil), c.params...), data: c.data}
		damage(bad)
		if _, err := ReadCodes(bytes.NewReader(encoded(t, bad))); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestHugeCountCostsLittle claims 2^28 codes of 64 KiB in a short block: the reader must fail
// at the end of the bytes without allocating what the header claims.
func TestHugeCountCostsLittle(t *testing.T) {
	data := encoded(t, sampleCodes(t, Config{Kind: Rotated8, Dim: MaxDim, Seed: 1}, 1))
	binary.LittleEndian.PutUint64(data[28:], maxCount)
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := ReadCodes(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("huge count: %v", err)
		}
	})
	if allocs > 200 {
		t.Errorf("%g allocations", allocs)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		n := f.after
		f.after = 0
		return n, io.ErrShortWrite
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	c := sampleCodes(t, Config{Kind: Rotated8, Dim: 64, Seed: 1}, 3)
	full := len(encoded(t, c))
	for _, after := range []int{0, 10, full - 4, full - 1} {
		if _, err := c.WriteTo(&failWriter{after: after}); !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("writer failing after %d bytes: %v", after, err)
		}
	}
}

// FuzzReadCodes feeds the reader arbitrary bytes, starting from valid blocks: it must return
// codes or an ErrCorrupt/ErrVersion error, and codes it returns must re-encode to the bytes read.
func FuzzReadCodes(f *testing.F) {
	f.Add(encoded(f, sampleCodes(f, Config{Kind: Rotated8, Dim: 8, Seed: 3}, 2)))
	f.Add(encoded(f, sampleCodes(f, Config{Kind: Plain8, Dim: 5}, 3)))
	f.Add(encoded(f, sampleCodes(f, Config{Kind: Rotated8, Dim: 1, Seed: 0}, 0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		c, err := ReadCodes(r)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		read := data[:len(data)-r.Len()]
		if again := encoded(t, c); !bytes.Equal(again, read) {
			t.Fatalf("codes read from %d bytes re-encode to %d different bytes", len(read), len(again))
		}
		var qq Query
		if err := c.Quantizer().Prepare(&qq, make([]float32, c.Config().Dim)); err != nil {
			t.Fatal(err)
		}
		for i := range c.Len() {
			if s := c.Similarity(&qq, i); s != 0 {
				t.Fatalf("zero query scores %g", s)
			}
		}
	})
}
