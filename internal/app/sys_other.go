//go:build !unix

package app

// lockDataDir is a no-op where flock does not exist: run one facematch process per data
// directory there.
func lockDataDir(string) (func(), error) { return func() {}, nil }

// PeakRSS is unknown here.
func PeakRSS() int64 { return 0 }
