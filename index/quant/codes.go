package quant

import "fmt"

// Codes are the codes of a sequence of vectors, numbered from 0 in the order they were
// appended, in one contiguous array (the layout a graph walks). Append is not safe for
// concurrent use; once appending has stopped, every read is.
type Codes struct {
	q      *Quantizer
	params []Params
	data   []uint8
}

// NewCodes returns an empty set of codes with room for capacity vectors.
func (q *Quantizer) NewCodes(capacity int) *Codes {
	return &Codes{q: q, params: make([]Params, 0, capacity), data: make([]uint8, 0, capacity*q.CodeSize())}
}

// EncodeAll returns the codes of vectors, rows of Dim floats one after another.
func (q *Quantizer) EncodeAll(vectors []float32) (*Codes, error) {
	dim := q.cfg.Dim
	if len(vectors)%dim != 0 {
		return nil, fmt.Errorf("%w: %d floats are not rows of %d", ErrDimension, len(vectors), dim)
	}
	c := q.NewCodes(len(vectors) / dim)
	for i := 0; i < len(vectors); i += dim {
		if err := c.Append(vectors[i : i+dim]); err != nil {
			return nil, fmt.Errorf("vector %d: %w", i/dim, err)
		}
	}
	return c, nil
}

// Append encodes v as the next code.
func (c *Codes) Append(v []float32) error {
	n := len(c.data)
	c.data = append(c.data, make([]uint8, c.q.CodeSize())...)
	p, err := c.q.Encode(c.data[n:], v)
	if err != nil {
		c.data = c.data[:n]
		return err
	}
	c.params = append(c.params, p)
	return nil
}

// Len is the number of codes.
func (c *Codes) Len() int { return len(c.params) }

// Config is the configuration of the codes' quantizer.
func (c *Codes) Config() Config { return c.q.cfg }

// Quantizer is the quantizer the codes were made with, the one to prepare queries with.
func (c *Codes) Quantizer() *Quantizer { return c.q }

// Size is the memory the codes hold in bytes: the codes and 12 bytes of Params each.
func (c *Codes) Size() int { return len(c.data) + 12*len(c.params) }

// Code returns code i (a view, not a copy) and its Params.
func (c *Codes) Code(i int) ([]uint8, Params) {
	n := c.q.CodeSize()
	return c.data[i*n : (i+1)*n : (i+1)*n], c.params[i]
}

// Similarity estimates the dot product of the query with vector i. The query must have been
// prepared by a quantizer of the codes' Config (check Query.Config once, not per call).
func (c *Codes) Similarity(qq *Query, i int) float32 { return qq.Similarity(c.Code(i)) }

// SimilarityBetween estimates the dot product of vectors i and j from their codes.
func (c *Codes) SimilarityBetween(i, j int) float32 {
	a, pa := c.Code(i)
	b, pb := c.Code(j)
	return SimilarityCodes(a, pa, b, pb)
}
