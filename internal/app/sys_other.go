//go:build !unix

package main

// lockDataDir is a no-op where flock does not exist: run one facematch process per data
// directory there.
func lockDataDir(string) (func(), error) { return func() {}, nil }

// peakRSS is unknown here.
func peakRSS() int64 { return 0 }
