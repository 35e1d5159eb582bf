//go:build race

package graph

// raceEnabled shrinks the slowest tests: the race detector slows the
// single-threaded coder/hnsw build about tenfold.
const raceEnabled = true
