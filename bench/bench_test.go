package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/internal/testenv"
	"github.com/facematch/facematch/models"
)

// The runtime is opened by the first benchmark that needs it, so that a test run of the
// package (the quick tier, or no benchmark selected) never loads ONNX Runtime.
var (
	rtOnce sync.Once
	rt     *models.Runtime
	rtErr  error
)

func openRT(b *testing.B) *models.Runtime {
	b.Helper()
	testenv.RequireModels(b)
	rtOnce.Do(func() {
		rt, rtErr = models.Open(models.RuntimeConfig{Library: testenv.Library(), ModelDir: testenv.ModelDir()})
	})
	if rtErr != nil {
		b.Fatal(rtErr)
	}
	return rt
}

func TestMain(m *testing.M) {
	code := m.Run()
	if rt != nil {
		rt.Close()
	}
	os.Exit(code)
}

// BenchmarkPipeline times one photo from bytes to embedded faces (decode, detect, quality,
// align, embed) with each recognizer, on one ONNX Runtime thread and on two.
func BenchmarkPipeline(b *testing.B) {
	photos := []struct{ name, path string }{
		{"lfw250-1face", "lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg"},
		{"group2100-10faces", "group_photos/goface_pristin.jpg"},
	}
	for _, threads := range []int{1, 2} {
		det, err := openRT(b).Detector(face.YuNetS, models.DetectorConfig{Threads: threads})
		if err != nil {
			b.Fatal(err)
		}
		for _, rec := range []string{face.Faceplugin512, face.Dlib128, face.FusedName} {
			emb, err := openRT(b).Embedder(rec, models.RecognizerConfig{Threads: threads})
			if err != nil {
				b.Fatal(err)
			}
			p := &engine.Pipeline{Detector: det, Embedder: emb}
			for _, ph := range photos {
				data, err := os.ReadFile(filepath.Join(testenv.Data(), ph.path))
				if err != nil {
					b.Fatal(err)
				}
				b.Run(fmt.Sprintf("%s/%s/threads=%d", rec, ph.name, threads), func(b *testing.B) {
					for b.Loop() {
						if _, err := p.Analyze(context.Background(), data); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
