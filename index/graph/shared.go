package graph

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/facematch/facematch/index/quant"
)

// SharedBound is a similarity threshold shared by the walks of one query over several graphs
// (the segments of an index): the k-th best exact similarity of results the caller has already
// accepted from any of them. A result below it cannot enter the query's top k, so a walk whose
// best unexplored candidate cannot beat it stops (issue 17: "a segment with nothing better stops
// early"). It only rises.
//
// The zero value is a bound that holds nothing back. A SharedBound is safe for concurrent use:
// one goroutine per graph may Raise and read it while the others walk.
type SharedBound struct {
	// key is the order-preserving uint32 of the bound's float32 (see boundKey); 0, the zero
	// value, lies below every float, so it means no bound.
	key atomic.Uint32
}

// boundKey maps float32s to uint32s in the same order: negative floats have their bits
// inverted, the others their sign bit set. Only NaN with every bit set maps to 0.
func boundKey(v float32) uint32 {
	b := math.Float32bits(v)
	if b&(1<<31) != 0 {
		return ^b
	}
	return b | 1<<31
}

// Raise lifts the bound to sim when sim is higher; NaN is ignored.
func (b *SharedBound) Raise(sim float32) {
	if sim != sim {
		return
	}
	k := boundKey(sim)
	for {
		old := b.key.Load()
		if old >= k || b.key.CompareAndSwap(old, k) {
			return
		}
	}
}

// Load returns the bound, or -Inf when nothing has raised it (or b is nil).
func (b *SharedBound) Load() float32 {
	if b == nil {
		return float32(math.Inf(-1))
	}
	k := b.key.Load()
	switch {
	case k == 0:
		return float32(math.Inf(-1))
	case k&(1<<31) != 0:
		return math.Float32frombits(k &^ (1 << 31))
	default:
		return math.Float32frombits(^k)
	}
}

// BoundMargin is how far below the shared bound a walk still expands a candidate. It is not
// only the quantized estimate's error (a few thousandths) but the walk's slack: a segment that
// does hold better results is often reached through worse nodes first. A walk stopped at the
// bound itself lost 0.04-0.06 of recall@10 and mate recall over five graphs
// (TestSharedBoundRecall), 0.05 lost 0.2 of recall@10 on face-shaped 512-d vectors, 0.1 still
// changed one query in 60 on a small random index (index's TestSearchSharedBoundIdentical) and
// 0.15 none; what it saves is measured in shared_eval_test.go (notes: qsearch.md).
const BoundMargin = 0.15

// walkMargin is BoundMargin, a variable so the measurement can sweep it.
var walkMargin float32 = BoundMargin

// BoundedSearcher is implemented by graphs whose walk can stop early against a SharedBound (an
// optional capability beside Graph, discovered by type assertion).
type BoundedSearcher interface {
	// SearchBounded is Search, except that the walk stops once its results hold ef candidates
	// and its best unexplored candidate cannot beat bound, and results below bound (which could
	// not enter the caller's top k) are left out. A nil bound, or one never raised, gives
	// Search's results exactly.
	SearchBounded(query []float32, k, ef int, bound *SharedBound) ([]Neighbor, error)
}

// PreparedSearcher is implemented by graphs walked on codes that can take a query prepared once
// for many graphs (every quantized graph shares QuantSeed's quant.Config).
type PreparedSearcher interface {
	// SearchPrepared is SearchBounded with qq, query prepared by the graph's quantizer, instead
	// of preparing it again.
	SearchPrepared(qq *quant.Query, query []float32, k, ef int, bound *SharedBound) ([]Neighbor, error)
}

var (
	_ BoundedSearcher  = (*HNSW)(nil)
	_ BoundedSearcher  = (*Quantized)(nil)
	_ PreparedSearcher = (*Quantized)(nil)
)

// Quantizer returns the quantizer of the graph's codes: a query prepared by it (or by any
// quantizer of an equal Config) fits SearchPrepared.
func (g *Quantized) Quantizer() *quant.Quantizer { return g.codes.Quantizer() }

// checkPrepared refuses a query prepared under another quantizer configuration, whose
// estimates against these codes would be meaningless.
func (g *Quantized) checkPrepared(qq *quant.Query) error {
	if qq == nil || qq.Config() != g.codes.Config() {
		return fmt.Errorf("graph: prepared query does not fit the codes' quantizer %+v", g.codes.Config())
	}
	return nil
}
