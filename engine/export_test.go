package engine

import "testing"

// TestingPipeline is the pipeline on the real default models, loaded on first use, for the
// external tests in package engine_test (which import packages that import engine). Like
// testenv.RequireModels, it skips the test in the quick tier.
func TestingPipeline(t testing.TB) *Pipeline {
	t.Helper()
	return realPipeline(t)
}

var CannotDecide = cannotDecide
