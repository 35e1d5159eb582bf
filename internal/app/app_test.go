package app

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/api"
	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/internal/blob/blobtest"
)

// The composition on face/facetest's models: the quick tier and the race pass run it. The real
// models are composed the same way by cmd/facematch's end-to-end tests.

func testConfig(dir string) Config {
	return Config{DataDir: dir, CredentialLifetime: engine.DefaultCredentialLifetime, MemoryBudget: engine.DefaultMemoryBudget,
		AdmissionWait: engine.DefaultAdmissionWait, DecodeTimeout: engine.DefaultDecodeTimeout, CompactAfter: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func fakeModels() *Models {
	return NewModels(map[string]*engine.Pipeline{"fake": {Detector: facetest.Detector{}, Embedder: facetest.Embedder{}}}, "fake", nil)
}

func open(t *testing.T, cfg Config) *App {
	t.Helper()
	a, err := Open(context.Background(), cfg, fakeModels())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var admin = engine.Actor{Name: "admin", Role: engine.RoleAdmin}

// TestDeletedGalleryLeavesTheStoreOnItsOwn: deleting a gallery removes its photos and
// thumbnails at once, and the index compacts by itself shortly after, so that no object in the
// store holds a vector of the gallery; nobody calls Compact.
func TestDeletedGalleryLeavesTheStoreOnItsOwn(t *testing.T) {
	ctx := context.Background()
	a := open(t, testConfig(t.TempDir()))
	defer a.Close()
	g, err := a.Service.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	var vectors [][]byte
	for i := range 30 {
		e, err := a.Service.AddImage(ctx, admin, engine.Upload{GalleryID: g.ID, Data: facetest.Photo(1+i, i)})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Faces) != 1 {
			t.Fatalf("photo %d: %d faces", i, len(e.Faces))
		}
	}
	if err := a.Catalog.Vectors(ctx, a.Models.Pipeline().Embedder.Identity(), func(_, _ int64, v []float32) error {
		vectors = append(vectors, floatBytes(v))
		return nil
	}); err != nil || len(vectors) != 30 {
		t.Fatalf("the catalog's vectors: %d, %v", len(vectors), err)
	}
	ix := a.Indexes["fake"]
	if err := ix.Checkpoint(ctx); err != nil { // the vectors are in segments in the store now
		t.Fatal(err)
	}
	if !blobtest.Holds(t, a.Blobs, vectors[0]) {
		t.Fatal("no segment holds a vector before the deletion: the test would prove nothing")
	}
	if err := a.Service.DeleteGallery(ctx, admin, g.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ix.Stats().Compactions == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for i, v := range vectors {
		if blobtest.Holds(t, a.Blobs, v) {
			t.Fatalf("face %d's vector is still in object storage %s after its gallery was deleted", i, time.Since(deadline.Add(-10*time.Second)))
		}
	}
	objs, err := a.Blobs.List(ctx, fmt.Sprintf("galleries/%d/", g.ID))
	if err != nil || len(objs) != 0 {
		t.Fatalf("the deleted gallery's blobs: %d left, %v", len(objs), err)
	}
}

// TestCloseStopsAJobResumably: closing the app while its job runner works stops the job where it
// is, and the next open resumes it to the end.
func TestCloseStopsAJobResumably(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := open(t, testConfig(dir))
	a.RunBackground(ctx, time.Hour, 0)
	g, err := a.Service.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for i := range 200 {
		files[fmt.Sprintf("ad%03d.png", i)] = facetest.Photo(1+i%500, i)
	}
	archive := zipOf(t, files)
	j, err := a.Service.CreateJob(ctx, admin, engine.JobRequest{Kind: engine.IngestJob, GalleryID: g.ID,
		Spec: engine.JobSpec{Purpose: "test"}, Archive: bytes.NewReader(archive), ArchiveSize: int64(len(archive))})
	if err != nil {
		t.Fatal(err)
	}
	for {
		v, err := a.Service.Job(ctx, admin, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Processed > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	b := open(t, testConfig(dir))
	defer b.Close()
	v, err := b.Service.Job(ctx, admin, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.State.Finished() || v.Processed >= 200 {
		t.Fatalf("after Close the job is %s with %d of 200 processed: Close did not interrupt it", v.State, v.Processed)
	}
	b.RunBackground(ctx, time.Hour, 0)
	deadline := time.Now().Add(30 * time.Second)
	for !v.State.Finished() {
		if time.Now().After(deadline) {
			t.Fatalf("the job did not finish after the restart: %+v", v)
		}
		time.Sleep(20 * time.Millisecond)
		if v, err = b.Service.Job(ctx, admin, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	if v.State != engine.JobDone || v.Processed != 200 || v.Stored != 200 {
		t.Fatalf("resumed job: %s, %d processed, %d stored; want done with 200 of 200", v.State, v.Processed, v.Stored)
	}
}

// TestOneProcessPerDataDirectory: a second open of a directory in use is refused with what to
// do, and the refusal closes the models it was given.
func TestOneProcessPerDataDirectory(t *testing.T) {
	dir := t.TempDir()
	a := open(t, testConfig(dir))
	defer a.Close()
	closed := false
	m := NewModels(fakeModels().Pipelines, "fake", func() error { closed = true; return nil })
	if _, err := Open(context.Background(), testConfig(dir), m); err == nil || !strings.Contains(err.Error(), "in use by another facematch process") {
		t.Fatalf("second open: %v", err)
	}
	if !closed {
		t.Error("the refused open left its models open")
	}
	if err := a.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Blobs: "ftp://x", Workers: -1, CredentialLifetime: time.Minute, MemoryBudget: 1, DecodeTimeout: time.Millisecond}.Validate()
	for _, want := range []string{"--data-dir is required", "--blobs must be empty", "--workers must be >= 0", "--credential-lifetime",
		"--memory-budget must be at least 256MiB", "--admission-wait must be in (0, 1m]", "--decode-timeout must be at least 1s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to say %q", err, want)
		}
	}
	if err := testConfig("var").Validate(); err != nil {
		t.Errorf("a valid configuration: %v", err)
	}
}

// floatBytes is v as the index stores it: little-endian float32s.
func floatBytes(v []float32) []byte {
	out := make([]byte, 0, 4*len(v))
	for _, x := range v {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
	}
	return out
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGauges: after a search with a candidate, the metrics show the review queue's depth and
// age, each model's inference time and the Go runtime.
func TestGauges(t *testing.T) {
	ctx := context.Background()
	a := open(t, testConfig(t.TempDir()))
	defer a.Close()
	ref, err := a.Service.CreateGallery(ctx, admin, "wanted", engine.Reference, "")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := a.Service.CreateSubject(ctx, admin, engine.Subject{GalleryID: ref.ID, Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Service.AddImage(ctx, admin, engine.Upload{GalleryID: ref.ID, SubjectID: &sub.ID, Data: facetest.Photo(9, 1)}); err != nil {
		t.Fatal(err)
	}
	analyst := engine.Actor{Name: "ann", Role: engine.RoleAnalyst}
	if _, err := a.Service.Search(ctx, analyst, engine.SearchRequest{Data: facetest.Photo(9, 2), Galleries: []int64{ref.ID}, Purpose: "ad"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]api.Gauge{}
	for _, g := range a.Gauges() {
		key := g.Name
		if s := g.Labels["status"]; s != "" {
			key += "/" + s
		}
		got[key] = g
	}
	if g := got["facematch_review_items/pending"]; g.Value != 1 || g.Labels["gallery"] != fmt.Sprint(ref.ID) {
		t.Errorf("pending items: %+v", g)
	}
	if g, ok := got["facematch_review_oldest_age_seconds/pending"]; !ok || g.Value < 0 || g.Value > 60 {
		t.Errorf("oldest pending age: %+v", g)
	}
	if g := got["facematch_inferences_total"]; g.Value != 2 || !g.Counter || g.Labels["model"] != a.Models.Pipeline().Embedder.Identity() {
		t.Errorf("inferences: %+v, want 2 (the upload and the search)", g)
	}
	for _, name := range []string{"facematch_inference_seconds_total", "go_goroutines", "go_memstats_heap_alloc_bytes", "facematch_index_faces"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}
