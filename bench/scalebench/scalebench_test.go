package scalebench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/catalog"
)

func TestPickPersons(t *testing.T) {
	root := t.TempDir()
	tree := map[string][]string{"Ann": {"Ann_2.jpg", "Ann_1.jpg"}, "Bob": {"Bob_1.jpg"}, "Cid": {"Cid_1.jpg", "Cid_2.jpg", "Cid_3.jpg"}}
	for dir, files := range tree {
		os.MkdirAll(filepath.Join(root, dir), 0o755)
		for _, f := range files {
			os.WriteFile(filepath.Join(root, dir, f), []byte("x"), 0o644)
		}
	}
	tests := []struct {
		people  int
		want    string
		wantErr bool
	}{
		{1, "Ann/Ann_1.jpg>Ann/Ann_2.jpg", false},
		{2, "Ann/Ann_1.jpg>Ann/Ann_2.jpg Cid/Cid_1.jpg>Cid/Cid_2.jpg", false},
		{3, "", true}, // Bob has one photo
	}
	for _, tc := range tests {
		got, err := pickPersons(root, tc.people)
		if (err != nil) != tc.wantErr {
			t.Fatalf("people %d: %v", tc.people, err)
		}
		var s []string
		for _, p := range got {
			s = append(s, p[0]+">"+p[1])
		}
		if strings.Join(s, " ") != tc.want {
			t.Errorf("people %d: %q, want %q", tc.people, strings.Join(s, " "), tc.want)
		}
	}
}

// TestBulkLoad stores synthetic faces through the catalog and reads back what the service's
// reconcile reads: every vector, under the gallery's model, in order.
func TestBulkLoad(t *testing.T) {
	ctx := context.Background()
	cat, err := catalog.Open(ctx, filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	const model, dim, n = "fake@1", 4, 2500
	g, err := cat.CreateGallery(ctx, engine.Gallery{Name: "c", Kind: engine.Collection, Model: model, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	fill := func(from int, out []float32) {
		for i := 0; i < len(out)/dim; i++ {
			out[i*dim] = float32(from + i)
		}
	}
	var batches []int
	if err := bulkLoad(ctx, cat, g.ID, model, dim, n, 1000, fill, func(done int) { batches = append(batches, done) }); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 3 || batches[2] != n {
		t.Fatalf("progress %v", batches)
	}
	var got int
	err = cat.Vectors(ctx, model, func(id, gallery int64, v []float32) error {
		if gallery != g.ID || len(v) != dim || v[0] != float32(got) {
			return errors.New("vector out of place")
		}
		got++
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("read back %d vectors: %v", got, err)
	}
	// The same photo twice is refused: the synthetic photos are distinct by construction.
	img, face := syntheticPhoto(7, g.ID, model, time.Now())
	if _, _, err := cat.AddImage(ctx, img, []engine.NewFace{{Face: face, Vector: make([]float32, dim)}}); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("photo 7 again: %v", err)
	}
}

func TestRunRefusesAnotherN(t *testing.T) {
	dir := t.TempDir()
	if err := writeState(dir, &state{N: 1000, People: 100}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n, people int
		want      string
	}{
		{2000, 100, "was prepared with n 1000"},
		{1000, 50, "was prepared with n 1000 and 100 people"},
	}
	for _, tc := range tests {
		_, err := Run(context.Background(), Config{DataDir: dir, N: tc.n, People: tc.people})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("n %d people %d: %v", tc.n, tc.people, err)
		}
	}
	// A directory with other contents is not prepared over.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "x"), nil, 0o600)
	if _, err := Run(context.Background(), Config{DataDir: other, N: 10}); err == nil || !strings.Contains(err.Error(), "neither empty") {
		t.Errorf("non-empty directory: %v", err)
	}
}
