package engine

// TestingPipeline is the test binary's pipeline on the real default models, for the external
// tests in package engine_test (which import packages that import engine).
func TestingPipeline() *Pipeline { return pipeline }

// TestingPipeline512 is a pipeline on the 512-d recognizer alone, sharing the detector.
func TestingPipeline512() *Pipeline { return pipeline512 }

var CannotDecide = cannotDecide
