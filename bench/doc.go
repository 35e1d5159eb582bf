// Package bench holds the end-to-end benchmarks (bench_test.go) and the script that produces
// bench/RESULTS.md (bench/run). Stage benchmarks that need the models' internals live beside
// them: models/bench_test.go and models/decode's BenchmarkImage.
package bench
