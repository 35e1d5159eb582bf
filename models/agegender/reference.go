package agegender

import (
	"fmt"
	"math"
)

// This file is the reference forward pass: plain loops over NHWC float32 maps written from
// TensorFlow's definitions of each op, with float64 accumulators. It takes ~0.2 s per face and
// exists so tests can check the ONNX graph against something that does not share its code.

// fmap is one image's feature map in HWC order.
type fmap struct {
	h, w, c int
	v       []float32
}

func newMap(h, w, c int) fmap { return fmap{h: h, w: w, c: c, v: make([]float32, h*w*c)} }

func (m fmap) at(y, x, c int) float32 { return m.v[(y*m.w+x)*m.c+c] }

// samePad is TensorFlow's "same" padding: the output size and the padding before the first
// row (the odd pixel of padding, if any, goes after the last).
func samePad(in, k, stride int) (out, before int) {
	out = (in + stride - 1) / stride
	total := max((out-1)*stride+k-in, 0)
	return out, total / 2
}

// Forward runs the network on one crop given as raw RGB values (0..255) in CHW order,
// 3×112×112, exactly what the ONNX model's input holds for one batch item.
func (n *Net) Forward(chw []float32) (Output, error) {
	const plane = InputSize * InputSize
	if len(chw) != 3*plane {
		return Output{}, fmt.Errorf("agegender: input has %d values, want %d", len(chw), 3*plane)
	}
	x := newMap(InputSize, InputSize, 3)
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			x.v[i*3+c] = (chw[c*plane+i] - Mean[c]) / Scale
		}
	}
	out := relu(n.convIn.apply(x))
	out = n.entry[0].apply(out)
	out = n.entry[1].apply(out)
	for _, b := range n.middle {
		out = b.apply(out)
	}
	out = n.exit.apply(out)
	out = relu(n.exitSep.apply(out))

	// avgPool 7×7 stride 2 "valid" on a 7×7 map: the mean of each channel.
	pooled := make([]float64, out.c)
	for i := 0; i < out.h*out.w; i++ {
		for c := range pooled {
			pooled[c] += float64(out.v[i*out.c+c])
		}
	}
	for c := range pooled {
		pooled[c] /= float64(out.h * out.w)
	}
	age := n.age.apply(pooled)
	logits := n.gender.apply(pooled)
	m := math.Max(logits[0], logits[1])
	e0, e1 := math.Exp(logits[0]-m), math.Exp(logits[1]-m)
	return Output{Age: float32(age[0]), Male: float32(e0 / (e0 + e1)), Female: float32(e1 / (e0 + e1))}, nil
}

func relu(m fmap) fmap {
	out := newMap(m.h, m.w, m.c)
	for i, v := range m.v {
		out.v[i] = max(v, 0)
	}
	return out
}

func add(a, b fmap) fmap {
	out := newMap(a.h, a.w, a.c)
	for i := range a.v {
		out.v[i] = a.v[i] + b.v[i]
	}
	return out
}

// apply is conv2d(x, filters, stride, "same") + bias.
func (cv conv) apply(x fmap) fmap {
	oh, padT := samePad(x.h, cv.k, cv.stride)
	ow, padL := samePad(x.w, cv.k, cv.stride)
	out := newMap(oh, ow, cv.out)
	acc := make([]float64, cv.out)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for o := range acc {
				acc[o] = float64(cv.bias[o])
			}
			for ky := 0; ky < cv.k; ky++ {
				y := oy*cv.stride + ky - padT
				if y < 0 || y >= x.h {
					continue
				}
				for kx := 0; kx < cv.k; kx++ {
					xx := ox*cv.stride + kx - padL
					if xx < 0 || xx >= x.w {
						continue
					}
					for i := 0; i < cv.in; i++ {
						v := float64(x.at(y, xx, i))
						w := cv.filters[((ky*cv.k+kx)*cv.in+i)*cv.out:][:cv.out]
						for o := range acc {
							acc[o] += v * float64(w[o])
						}
					}
				}
			}
			dst := out.v[(oy*ow+ox)*cv.out:][:cv.out]
			for o := range acc {
				dst[o] = float32(acc[o])
			}
		}
	}
	return out
}

// apply is separableConv2d(x, depthwise, pointwise, 1, "same") + bias.
func (s sepConv) apply(x fmap) fmap {
	dw := newMap(x.h, x.w, s.in)
	_, pad := samePad(x.h, 3, 1)
	for y := 0; y < x.h; y++ {
		for xx := 0; xx < x.w; xx++ {
			for c := 0; c < s.in; c++ {
				var acc float64
				for ky := 0; ky < 3; ky++ {
					sy := y + ky - pad
					if sy < 0 || sy >= x.h {
						continue
					}
					for kx := 0; kx < 3; kx++ {
						sx := xx + kx - pad
						if sx < 0 || sx >= x.w {
							continue
						}
						acc += float64(x.at(sy, sx, c)) * float64(s.depthwise[(ky*3+kx)*s.in+c])
					}
				}
				dw.v[(y*x.w+xx)*s.in+c] = float32(acc)
			}
		}
	}
	out := newMap(x.h, x.w, s.out)
	acc := make([]float64, s.out)
	for p := 0; p < x.h*x.w; p++ {
		for o := range acc {
			acc[o] = float64(s.bias[o])
		}
		for i := 0; i < s.in; i++ {
			v := float64(dw.v[p*s.in+i])
			w := s.pointwise[i*s.out:][:s.out]
			for o := range acc {
				acc[o] += v * float64(w[o])
			}
		}
		for o := range acc {
			out.v[p*s.out+o] = float32(acc[o])
		}
	}
	return out
}

// maxPool3s2 is maxPool(x, 3, 2, "same"): padded positions never win.
func maxPool3s2(x fmap) fmap {
	oh, padT := samePad(x.h, 3, 2)
	ow, padL := samePad(x.w, 3, 2)
	out := newMap(oh, ow, x.c)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for c := 0; c < x.c; c++ {
				best := float32(math.Inf(-1))
				for ky := 0; ky < 3; ky++ {
					y := oy*2 + ky - padT
					if y < 0 || y >= x.h {
						continue
					}
					for kx := 0; kx < 3; kx++ {
						xx := ox*2 + kx - padL
						if xx < 0 || xx >= x.w {
							continue
						}
						best = max(best, x.at(y, xx, c))
					}
				}
				out.v[(oy*ow+ox)*x.c+c] = best
			}
		}
	}
	return out
}

func (b reductionBlock) apply(x fmap) fmap {
	out := x
	if b.activateInput {
		out = relu(x)
	}
	out = b.sep0.apply(out)
	out = b.sep1.apply(relu(out))
	out = maxPool3s2(out)
	return add(out, b.expansion.apply(x))
}

func (b mainBlock) apply(x fmap) fmap {
	out := x
	for _, s := range b.sep {
		out = s.apply(relu(out))
	}
	return add(out, x)
}

func (f fc) apply(x []float64) []float64 {
	out := make([]float64, f.out)
	for o := range out {
		out[o] = float64(f.bias[o])
	}
	for i, v := range x {
		for o := range out {
			out[o] += v * float64(f.weights[i*f.out+o])
		}
	}
	return out
}
