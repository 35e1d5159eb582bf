package quant

import "fmt"

// EncodedSize is the number of bytes WriteTo writes for the codes, known before writing so a
// container format can put the block's length in front of it.
func (c *Codes) EncodedSize() int64 {
	return int64(headerSize) + int64(len(c.params))*(paramsSize+int64(c.q.CodeSize())) + 4
}

// AppendFrom appends code i of src as the next code, copied, not re-encoded: a merge of
// segments keeps its inputs' codes. src must have been made under the same Config.
func (c *Codes) AppendFrom(src *Codes, i int) error {
	if src.q.cfg != c.q.cfg {
		return fmt.Errorf("%w: codes of %+v appended to codes of %+v", ErrDimension, src.q.cfg, c.q.cfg)
	}
	if i < 0 || i >= src.Len() {
		return fmt.Errorf("quant: code %d of %d", i, src.Len())
	}
	code, p := src.Code(i)
	c.data = append(c.data, code...)
	c.params = append(c.params, p)
	return nil
}

// Trim gives back the capacity the codes do not use: a block read by ReadCodes grows as its
// bytes arrive, and codes long kept (a sealed segment's) should not carry append's slack, which
// is up to a quarter of their size.
func (c *Codes) Trim() {
	if cap(c.data) > len(c.data) {
		c.data = append(make([]uint8, 0, len(c.data)), c.data...)
	}
	if cap(c.params) > len(c.params) {
		c.params = append(make([]Params, 0, len(c.params)), c.params...)
	}
}
