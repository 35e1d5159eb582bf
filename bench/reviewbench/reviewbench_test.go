package reviewbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/internal/app"
)

// TestRunCountsItems runs the bench on the fake models: four people enrolled with two photos,
// their third photo and two strangers searched twice. Every mate becomes one item, no stranger
// does, the second round makes none, and "before" is every candidate of both rounds.
func TestRunCountsItems(t *testing.T) {
	dir := t.TempDir()
	write := func(side, person string, data []byte, n int) {
		t.Helper()
		p := filepath.Join(dir, side, person, fmt.Sprintf("%d.png", n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, person := range []int{11, 22, 33, 44} {
		name := fmt.Sprint("p", person)
		write("gallery", name, facetest.Photo(person, 1), 1)
		write("gallery", name, facetest.Photo(person, 2), 2)
		write("probes", name, facetest.Photo(person, 3), 3)
	}
	for _, stranger := range []int{150, 250} {
		write("probes", fmt.Sprint("s", stranger), facetest.Photo(stranger, 1), 1)
	}
	cfg := app.Config{DataDir: filepath.Join(dir, "data"), CredentialLifetime: engine.DefaultCredentialLifetime, MemoryBudget: engine.DefaultMemoryBudget,
		AdmissionWait: engine.DefaultAdmissionWait, DecodeTimeout: engine.DefaultDecodeTimeout, CompactAfter: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	a, err := app.Open(context.Background(), cfg, app.NewModels(map[string]*engine.Pipeline{"fake": {Detector: facetest.Detector{}, Embedder: facetest.Embedder{}}}, "fake", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := Run(context.Background(), a, Config{Gallery: filepath.Join(dir, "gallery"), Probes: filepath.Join(dir, "probes"), K: 20, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if res.Subjects != 4 || res.Photos != 8 || res.Searches != 6 || res.Mated != 4 || res.Strangers != 2 {
		t.Fatalf("counts: %+v", res)
	}
	// A subject is one candidate (its photos scored together), so one item per mate.
	if res.MatesFound != 4 || res.StrangersWithItem != 0 || res.Items != res.ItemsFirstRound || res.Items != 4 {
		t.Errorf("items: %+v, want one per mate, none from strangers or the repeat", res)
	}
	if res.BeforeItems != 2*res.Candidates || res.Candidates != 6*4 || res.Threshold == 0 {
		t.Errorf("before: %d items of %d candidates (threshold %g), want every candidate of both rounds", res.BeforeItems, res.Candidates, res.Threshold)
	}
}
