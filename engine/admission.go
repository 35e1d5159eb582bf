package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/facematch/facematch/models/decode"
)

// Admission defaults; see ServiceConfig.
const (
	// DefaultMemoryBudget lets four of the costliest photos the default limits accept (a
	// 40-megapixel progressive JPEG: 460 MB) or a few hundred ordinary ones be analysed at
	// once. A fixed value, not a share of the machine's memory: the process may share the
	// machine or run under a container limit that a share of physical memory would ignore.
	DefaultMemoryBudget = 2 << 30
	// DefaultAdmissionWait is how long a request waits for budget before it is answered 503:
	// long enough to ride out a burst (a large photo takes about a second), short enough that
	// a client retrying later is better served than one holding a connection.
	DefaultAdmissionWait = 3 * time.Second
	// DefaultDecodeTimeout bounds the wait for one decode: a real 39-megapixel photo decodes in
	// 0.8 s on one core, a 100-scan JPEG (the most the scan cap lets through) in 0.9 s.
	DefaultDecodeTimeout = 10 * time.Second
)

// analysisBytes is what analysing a decoded photo holds beside its pixels, whatever its size:
// the detector's input (scaled to at most 640×640: a 1.6 MB copy and a 4.9 MB float tensor),
// ONNX Runtime's activations for one run, aligned crops and thumbnails. It also makes every
// photo, however small, weigh something.
const analysisBytes = 32 << 20

// errOverBudget marks a photo whose analysis alone would need more memory than the service's
// whole budget: it is a 413, however long the client waits.
var errOverBudget = errors.New("photo needs more memory than the service's budget")

// admission bounds the memory that photos being decoded and analysed hold at once: a weighted
// semaphore whose weight is each photo's estimated peak bytes. Waiters are served in order, so
// a large photo is not starved by small ones behind it.
type admission struct {
	budget  int64
	wait    time.Duration
	timeout time.Duration
	sem     *semaphore.Weighted
	held    atomic.Int64
	peak    atomic.Int64
	refused atomic.Int64
	late    atomic.Int64 // decodes that outlived their deadline
}

func newAdmission(budget int64, wait, timeout time.Duration) *admission {
	return &admission{budget: budget, wait: wait, timeout: timeout, sem: semaphore.NewWeighted(budget)}
}

// AdmissionStats are the admission's figures, for metrics and tests.
type AdmissionStats struct {
	Budget  int64 // bytes
	Held    int64 // bytes held by photos being decoded or analysed now
	Peak    int64 // the most ever held at once
	Refused int64 // requests answered 503 because the budget stayed full
	Late    int64 // decodes that outlived the decode timeout (their requests were answered 503)
}

// Admission reports the memory admission's figures.
func (s *Service) Admission() AdmissionStats {
	a := s.admit
	return AdmissionStats{Budget: a.budget, Held: a.held.Load(), Peak: a.peak.Load(), Refused: a.refused.Load(), Late: a.late.Load()}
}

// ticket is weight held in the admission. It is released when its last holder lets go: the
// request, and the decoding goroutine, which may outlive the request (Go's decoders cannot be
// interrupted, and the memory they hold is real until they return).
type ticket struct {
	a      *admission
	weight int64
	refs   atomic.Int32
}

func (t *ticket) release() {
	if t.refs.Add(-1) == 0 {
		t.a.held.Add(-t.weight)
		t.a.sem.Release(t.weight)
	}
}

// acquire waits for weight bytes of budget. A request (patient false) waits at most the
// admission wait and then gets ErrUnavailable with a Retry-After; a job (patient) waits as
// long as its context lives.
func (a *admission) acquire(ctx context.Context, weight int64, patient bool) (*ticket, error) {
	if weight > a.budget {
		return nil, fmt.Errorf("%w: it needs about %d MB to analyse, the service's memory budget is %d MB; send a smaller photo: %w",
			errOverBudget, mb(weight), mb(a.budget), ErrTooLarge)
	}
	wctx := ctx
	if !patient {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, a.wait)
		defer cancel()
	}
	if err := a.sem.Acquire(wctx, weight); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.refused.Add(1)
		return nil, &RetryAfter{Err: fmt.Errorf("the service is analysing as many photos as its memory allows; nothing was changed: %w", ErrUnavailable),
			After: a.wait}
	}
	held := a.held.Add(weight)
	for p := a.peak.Load(); held > p && !a.peak.CompareAndSwap(p, held); p = a.peak.Load() {
	}
	t := &ticket{a: a, weight: weight}
	t.refs.Store(1)
	return t, nil
}

func mb(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// photoWeight is what admitting a photo with header h costs.
func photoWeight(h decode.Header) int64 { return h.PeakBytes() + analysisBytes }

// decodeAdmitted checks data's header, waits for its weight of budget and decodes it. The
// returned ticket is the caller's to release once it no longer uses the pixels. The decode
// runs in its own goroutine, which holds the ticket too: when it outlives the decode timeout
// (or the caller's context), the caller gets an error at once but the weight stays held until
// the decoder really returns, so abandoned decodes cannot pile up beyond the budget.
func (s *Service) decodeAdmitted(ctx context.Context, lim decode.Limits, data []byte, patient bool) (*decodedPhoto, *ticket, error) {
	h, err := decode.Inspect(data, lim)
	if err != nil {
		return nil, nil, photoError(err)
	}
	t, err := s.admit.acquire(ctx, photoWeight(h), patient)
	if err != nil {
		return nil, nil, err
	}
	t.refs.Add(1) // the decoder's
	done := make(chan decodedPhoto, 1)
	go func() {
		defer t.release()
		img, info, err := decode.Image(data, lim)
		done <- decodedPhoto{img, info, err}
	}()
	timer := time.NewTimer(s.admit.timeout)
	defer timer.Stop()
	select {
	case d := <-done:
		if d.err != nil {
			t.release()
			return nil, nil, photoError(d.err)
		}
		return &d, t, nil
	case <-timer.C:
		s.admit.late.Add(1)
		t.release()
		return nil, nil, &RetryAfter{Err: fmt.Errorf("decoding the photo took longer than %s (the service is busy, or the photo is unusually costly); nothing was changed: %w",
			s.admit.timeout, ErrUnavailable), After: s.admit.timeout}
	case <-ctx.Done():
		t.release()
		return nil, nil, ctx.Err()
	}
}

type decodedPhoto struct {
	img  *image.NRGBA
	info decode.Info
	err  error
}
