package engine

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/internal/verify"
)

// PrimaryEmbedding is the embedding of an image's primary face (see [Primary]).
type PrimaryEmbedding struct {
	Path      string
	Embedding *face.Embedding // nil when no face was found or the file failed
	Rejected  []string        // the gate's reasons, when the primary face was below it
	Err       error           // reading or decoding failed
	Found     bool            // a face was detected
	Quality   Quality         // the primary face's
	// Age is the primary face's apparent age (the pipeline has an age model), NoAge why not.
	Age   *ApparentAge
	NoAge string
}

// Progress is called from time to time with how many images are done out of total.
type Progress func(done, total int, elapsed time.Duration)

// EmbedPrimaries runs the pipeline over files (relative to root) with workers goroutines and
// returns the primary face of each, in input order. The pipeline should have EmbedRejected set,
// so an evaluation counts gate refusals separately from detection failures.
func (p *Pipeline) EmbedPrimaries(ctx context.Context, root string, files []string, workers int, progress Progress) ([]PrimaryEmbedding, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]PrimaryEmbedding, len(files))
	jobs := make(chan int)
	var done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < max(1, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				out[i] = p.primary(ctx, root, files[i])
				if out[i].Err != nil && ctx.Err() != nil {
					errOnce.Do(func() { firstErr = ctx.Err() })
					return
				}
				done.Add(1)
			}
		}()
	}
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
feed:
	for i := range files {
		for {
			select {
			case jobs <- i:
				continue feed
			case <-ticker.C:
				if progress != nil {
					progress(int(done.Load()), len(files), time.Since(start))
				}
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	if progress != nil {
		progress(int(done.Load()), len(files), time.Since(start))
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, ctx.Err()
}

func (p *Pipeline) primary(ctx context.Context, root, rel string) PrimaryEmbedding {
	r := PrimaryEmbedding{Path: rel}
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		r.Err = err
		return r
	}
	a, err := p.Analyze(ctx, data)
	if err != nil {
		r.Err = fmt.Errorf("%s: %w", rel, err)
		return r
	}
	if i := Primary(a.Faces); i >= 0 {
		r.Embedding = a.Faces[i].Embedding
		r.Rejected = a.Faces[i].Rejected
		r.Found, r.Age, r.NoAge, r.Quality = true, a.Faces[i].Age, a.Faces[i].NoAge, a.Faces[i].Quality
	}
	return r
}

// VerifyResult is a verification evaluation: the protocol's report plus what the pipeline did.
type VerifyResult struct {
	verify.Report
	Images       int     // distinct images embedded
	NoFace       int     // images where no face was detected
	Rejected     int     // images whose primary face was below the quality gate (still scored)
	Failed       int     // images that could not be read or decoded
	ImagesPerSec float64 // end-to-end throughput, decode included
	LogisticA    float64 // calibration of similarity to a log-likelihood ratio (fitted on all pairs)
	LogisticB    float64
	Embeddings   []PrimaryEmbedding // every image's primary face, for further analysis
}

// EvaluatePairs embeds every image of the pair set and scores it by the verification protocol.
// A pair with an image where no face was found scores NaN, which the protocol counts as wrong.
func (p *Pipeline) EvaluatePairs(ctx context.Context, set *verify.PairSet, root string, workers int, progress Progress) (VerifyResult, error) {
	files := set.Images()
	start := time.Now()
	embs, err := p.EmbedPrimaries(ctx, root, files, workers, progress)
	if err != nil {
		return VerifyResult{}, err
	}
	elapsed := time.Since(start)
	res := VerifyResult{Images: len(files), ImagesPerSec: float64(len(files)) / elapsed.Seconds(), Embeddings: embs}
	byPath := make(map[string]*PrimaryEmbedding, len(embs))
	for i := range embs {
		e := &embs[i]
		byPath[e.Path] = e
		switch {
		case e.Err != nil:
			res.Failed++
		case e.Embedding == nil:
			res.NoFace++
		case len(e.Rejected) > 0:
			res.Rejected++
		}
	}
	scores := make([]float64, len(set.Pairs))
	var calS []float64
	var calY []bool
	for i, pair := range set.Pairs {
		a, b := byPath[pair.A].Embedding, byPath[pair.B].Embedding
		if a == nil || b == nil {
			scores[i] = math.NaN()
			continue
		}
		s, err := a.Similarity(*b)
		if err != nil {
			return VerifyResult{}, err
		}
		scores[i] = float64(s)
		calS = append(calS, scores[i])
		calY = append(calY, pair.Same)
	}
	rep, err := verify.Evaluate(set, scores)
	if err != nil {
		return VerifyResult{}, err
	}
	res.Report = rep
	if a, b, err := verify.FitLogistic(calS, calY); err == nil {
		res.LogisticA, res.LogisticB = a, b
	}
	return res, nil
}

// AllPairsResult is TAR at fixed FAR over every pair of distinct images, which resolves far
// smaller false-accept rates than a pairs file's few hundred impostor pairs.
type AllPairsResult struct {
	Genuine      int     `json:"genuine_pairs"`
	Impostor     int     `json:"impostor_pairs"`
	TARAtFAR1e3  float64 `json:"tar_at_far_1e3"`
	TARAtFAR1e4  float64 `json:"tar_at_far_1e4"`
	TARAtFAR1e5  float64 `json:"tar_at_far_1e5"`
	Threshold1e3 float64 `json:"threshold_1e3"`
	Threshold1e4 float64 `json:"threshold_1e4"`
	Threshold1e5 float64 `json:"threshold_1e5"`
	// CalibrationA and CalibrationB fit P(same | s) = σ(a·s + b) on every pair.
	CalibrationA float64 `json:"calibration_a"`
	CalibrationB float64 `json:"calibration_b"`
	// Tail is the impostor similarity reached by each false-match rate from 1e-2 down to the
	// smallest the pair count resolves (ten impostors above the line): the curve a gallery's
	// threshold for a target FPIR is read from (OperatingThreshold).
	Tail []TailPoint `json:"tail"`
}

// AllPairs scores every pair of embedded images; two images show the same person when the
// first element of their paths (the identity folder) is equal.
func AllPairs(embs []PrimaryEmbedding) AllPairsResult {
	var genuine, impostor []float64
	for i := range embs {
		if embs[i].Embedding == nil {
			continue
		}
		idI := identityOf(embs[i].Path)
		for j := i + 1; j < len(embs); j++ {
			if embs[j].Embedding == nil {
				continue
			}
			s, err := embs[i].Embedding.Similarity(*embs[j].Embedding)
			if err != nil {
				continue
			}
			if idI == identityOf(embs[j].Path) {
				genuine = append(genuine, float64(s))
			} else {
				impostor = append(impostor, float64(s))
			}
		}
	}
	r := AllPairsResult{Genuine: len(genuine), Impostor: len(impostor)}
	r.TARAtFAR1e3, r.Threshold1e3 = verify.TARAtFAR(genuine, impostor, 1e-3)
	r.TARAtFAR1e4, r.Threshold1e4 = verify.TARAtFAR(genuine, impostor, 1e-4)
	r.TARAtFAR1e5, r.Threshold1e5 = verify.TARAtFAR(genuine, impostor, 1e-5)
	scores := append(append([]float64(nil), genuine...), impostor...)
	labels := make([]bool, len(scores))
	for i := range genuine {
		labels[i] = true
	}
	r.CalibrationA, r.CalibrationB, _ = verify.FitLogistic(scores, labels)
	slices.Sort(impostor)
	for _, fmr := range tailFMRs {
		k := int(math.Floor(fmr*float64(len(impostor)) + 1e-9))
		if k < 10 || k >= len(impostor) {
			continue
		}
		r.Tail = append(r.Tail, TailPoint{FMR: fmr, Threshold: impostor[len(impostor)-1-k]})
	}
	return r
}

// tailFMRs are the false-match rates of an all-pairs tail, a third of a decade apart.
var tailFMRs = []float64{1e-2, 5e-3, 2e-3, 1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5, 5e-6, 2e-6, 1e-6, 5e-7}

func identityOf(path string) string {
	path = filepath.ToSlash(path)
	if i := strings.IndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return path
}
