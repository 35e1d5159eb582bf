package engine_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/local"
)

// Storage integrity on the real parts (face/facetest's models stand in for the real ones): a
// deletion never removes a live record's blobs, a deleted gallery leaves nothing in the store,
// and the sweeper leaves no object that no record references, on local disk and on S3
// (versitygw, versioned).

// heldStore is a real store whose Delete a test can hold or make fail: a slow purge racing an
// upload, or an object-store outage in the middle of one.
type heldStore struct {
	objectStore
	mu       sync.Mutex
	onDelete func(key string) error // nil: delete
}

func (s *heldStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	hook := s.onDelete
	s.mu.Unlock()
	if hook != nil {
		if err := hook(key); err != nil {
			return err
		}
	}
	return s.objectStore.Delete(ctx, key)
}

func (s *heldStore) setOnDelete(fn func(key string) error) {
	s.mu.Lock()
	s.onDelete = fn
	s.mu.Unlock()
}

// assertReadable fails unless the image's photo and every face's thumbnail can be read.
func assertReadable(t *testing.T, f *jobFixture, imageID int64, want []byte) {
	t.Helper()
	_, data, err := f.svc.ImageBytes(ctx(), admin, imageID)
	if err != nil {
		t.Fatalf("photo of image %d: %v", imageID, err)
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("photo of image %d: %d bytes, not the uploaded %d", imageID, len(data), len(want))
	}
	faces, err := f.cat.Faces(ctx(), imageID)
	if err != nil || len(faces) == 0 {
		t.Fatalf("faces of image %d: %d, %v", imageID, len(faces), err)
	}
	for _, fc := range faces {
		if _, err := f.svc.FaceThumbnail(ctx(), admin, fc.ID); err != nil {
			t.Fatalf("thumbnail of face %d: %v", fc.ID, err)
		}
	}
}

// TestReuploadDuringDeletionKeepsThePhoto: the same bytes uploaded again while the deletion
// of their first record is still purging (held, or failed on an outage and finished at the
// next start) keep their photo and thumbnails: the purge never removes the new record's blobs.
func TestReuploadDuringDeletionKeepsThePhoto(t *testing.T) {
	data := facetest.Photo(strangers[0], 1)
	for _, outage := range []bool{false, true} {
		t.Run(map[bool]string{false: "concurrent", true: "outage"}[outage], func(t *testing.T) {
			dir := t.TempDir()
			ls, err := local.Open(filepath.Join(dir, "blobs"))
			if err != nil {
				t.Fatal(err)
			}
			store := &heldStore{objectStore: ls}
			f := openFixtureOn(t, dir, only(fakePipeline()), store)
			g, err := f.svc.CreateGallery(ctx(), admin, "ads", engine.Collection, "")
			if err != nil {
				t.Fatal(err)
			}
			first, err := f.svc.AddImage(ctx(), admin, engine.Upload{GalleryID: g.ID, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			var second engine.Enrolled
			if outage {
				store.setOnDelete(func(string) error { return fmt.Errorf("s3 outage: %w", blob.ErrUnavailable) })
				if err := f.svc.DeleteImage(ctx(), admin, first.Image.ID); err == nil {
					t.Fatal("deletion during an outage succeeded")
				}
				store.setOnDelete(nil)
				if second, err = f.svc.AddImage(ctx(), admin, engine.Upload{GalleryID: g.ID, Data: data}); err != nil {
					t.Fatal(err)
				}
				// The restart finishes the interrupted purge.
				if err := f.svc.FinishPurges(ctx()); err != nil {
					t.Fatal(err)
				}
			} else {
				entered, release := make(chan struct{}), make(chan struct{})
				var once sync.Once
				store.setOnDelete(func(string) error {
					once.Do(func() { close(entered); <-release })
					return nil
				})
				deleted := make(chan error, 1)
				go func() { deleted <- f.svc.DeleteImage(ctx(), admin, first.Image.ID) }()
				<-entered // the record is gone, its purge has begun
				second, err = f.svc.AddImage(ctx(), admin, engine.Upload{GalleryID: g.ID, Data: data})
				close(release)
				if err != nil {
					t.Fatal(err)
				}
				if err := <-deleted; err != nil {
					t.Fatal(err)
				}
			}
			if second.Duplicate || second.Image.ID == first.Image.ID {
				t.Fatalf("re-upload = image %d (duplicate %v), want a new record", second.Image.ID, second.Duplicate)
			}
			assertReadable(t, f, second.Image.ID, data)
		})
	}
}

// strangers are eight fake people, no two alike.
var strangers = []int{11, 22, 33, 44, 55, 66, 77, 88}

// zipOf returns a zip archive of a photo of each person in n variants (so every entry is a new
// photo to the gallery), named pVARIANT_PERSON.png.
func zipOf(t *testing.T, persons []int, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range n {
		for k, person := range persons {
			w, err := zw.Create(fmt.Sprintf("p%02d_%02d.png", i, k))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(facetest.Photo(person, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func archiveJob(t *testing.T, f *jobFixture, galleryID int64, archive []byte, meta string) engine.Job {
	t.Helper()
	req := engine.JobRequest{Kind: engine.IngestJob, GalleryID: galleryID, Archive: bytes.NewReader(archive),
		ArchiveSize: int64(len(archive)), Spec: engine.JobSpec{Purpose: "case 12"}}
	if meta != "" {
		req.Meta, req.Spec.MetaFormat = []byte(meta), "csv"
	}
	j, err := f.svc.CreateJob(ctx(), admin, req)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// allKeys lists every object of the store outside the index's own prefix.
func allKeys(t *testing.T, store objectStore) []string {
	t.Helper()
	objs, err := store.List(ctx(), "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, "index/") {
			keys = append(keys, o.Key)
		}
	}
	return keys
}

// TestDeleteGalleryLeavesNothingOfIt: a gallery with a cancelled and a failed job (each with
// its uploaded archive and metadata sidecar) and a running job with a batch in flight is
// deleted: afterwards the store holds nothing of it, and another gallery keeps its photo.
func TestDeleteGalleryLeavesNothingOfIt(t *testing.T) {
	dir := t.TempDir()
	f := openFixture(t, dir, only(fakePipeline()))
	other, err := f.svc.CreateGallery(ctx(), admin, "other", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	kept := facetest.Photo(strangers[0], 1)
	keep, err := f.svc.AddImage(ctx(), admin, engine.Upload{GalleryID: other.ID, Data: kept})
	if err != nil {
		t.Fatal(err)
	}
	before := allKeys(t, f.blobs)

	g, err := f.svc.CreateGallery(ctx(), admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddImage(ctx(), admin, engine.Upload{GalleryID: g.ID, Data: facetest.Photo(strangers[1], 1)}); err != nil {
		t.Fatal(err)
	}
	small := zipOf(t, strangers[:2], 1)
	meta := "file,site\np00_00.png,example-ads\n"
	cancelled := archiveJob(t, f, g.ID, small, meta)
	if _, err := f.svc.CancelJob(ctx(), admin, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	failed := archiveJob(t, f, g.ID, small, meta)
	if _, err := f.cat.SetJobState(ctx(), failed.ID, engine.JobFailed, "source broke", time.Now()); err != nil {
		t.Fatal(err)
	}
	running := archiveJob(t, f, g.ID, zipOf(t, strangers, 4), meta)

	// The running job's first batch is committed and the next ones are analysed and stored
	// while the test holds its progress report: the deletion meets a batch in flight.
	firstBatch, deleting := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ran := make(chan engine.Job, 1)
	go func() {
		j, _ := f.svc.RunJob(ctx(), running.ID, func(engine.Job) {
			once.Do(func() { close(firstBatch); <-deleting })
		})
		ran <- j
	}()
	select {
	case <-firstBatch:
	case j := <-ran:
		t.Fatalf("job ended (%s) before its first batch", j.State)
	}
	time.Sleep(100 * time.Millisecond) // the workers store the next photos meanwhile (the fake takes ~1 ms a photo)
	close(deleting)
	if err := f.svc.DeleteGallery(ctx(), admin, g.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(time.Minute):
		t.Fatal("the deleted gallery's job still runs")
	}
	after := allKeys(t, f.blobs)
	if strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("after deleting gallery %d the store holds\n%s\nwant only what it held before the gallery:\n%s",
			g.ID, strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	assertReadable(t, f, keep.Image.ID, kept)
}
