package main

import (
	"testing"

	"github.com/facematch/facematch/face"
)

func TestBenchIndexRecognizerFor(t *testing.T) {
	tests := []struct {
		dim     int
		cache   string
		want    benchIndexRecognizer
		wantErr bool
	}{
		{512, "", benchIndexRecognizer{face.Faceplugin512, "bench/out/lfw-embeddings.gob", 0.62}, false},
		{640, "", benchIndexRecognizer{face.FusedName, "bench/out/lfw-embeddings-fused.gob", 0}, false},
		{640, "x.gob", benchIndexRecognizer{face.FusedName, "x.gob", 0}, false},
		{128, "", benchIndexRecognizer{}, true},
	}
	for _, tc := range tests {
		got, err := benchIndexRecognizerFor(tc.dim, tc.cache)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("benchIndexRecognizerFor(%d, %q) = %+v, %v; want %+v", tc.dim, tc.cache, got, err, tc.want)
		}
	}
}
