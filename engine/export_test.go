package engine

import (
	"testing"
	"time"

	"github.com/facematch/facematch/engine/cluster"
)

// TestingPipeline is the pipeline on the real default models, loaded on first use, for the
// external tests in package engine_test (which import packages that import engine). Like
// testenv.RequireModels, it skips the test in the quick tier.
func TestingPipeline(t testing.TB) *Pipeline {
	t.Helper()
	return realPipeline(t)
}

var CannotDecide = cannotDecide

// ClusterGraphs returns the exact and the index-built neighbour graphs of a gallery's faces.
func (s *Service) ClusterGraphs(t testing.TB, galleryID int64) (exact, fromIndex [][]int32) {
	t.Helper()
	g, err := s.cfg.Catalog.Gallery(t.Context(), galleryID)
	if err != nil {
		t.Fatal(err)
	}
	faces, err := s.cfg.Catalog.GalleryFaces(t.Context(), galleryID, g.Model)
	if err != nil {
		t.Fatal(err)
	}
	vs := make([][]float32, len(faces))
	for i, f := range faces {
		vs[i] = f.Vector
	}
	ig, err := s.indexGraph(t.Context(), g, faces, PersonK)
	if err != nil {
		t.Fatal(err)
	}
	for _, gr := range []struct {
		adj [][]cluster.Edge
		out *[][]int32
	}{{cluster.KNN(vs, PersonK).Adj, &exact}, {ig.Adj, &fromIndex}} {
		for _, es := range gr.adj {
			var ids []int32
			for _, e := range es {
				ids = append(ids, e.To)
			}
			*gr.out = append(*gr.out, ids)
		}
	}
	return exact, fromIndex
}

// SetRetry sets how soon the runner looks again at a sharded job whose other shards were with
// other processes.
func (r *JobRunner) SetRetry(d time.Duration) { r.retry = d }
