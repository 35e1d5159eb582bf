package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/facematch/facematch/engine"
)

// A database written by schema version 1 opens with its data intact and gains the jobs tables.
// SQLite only: migrates SQLite files of older versions (PostgreSQL starts at version 10).
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t, 1, `INSERT INTO galleries (name, kind, model, created_at, created_by) VALUES ('wanted', 'reference', 'm1', '2026', 'a')`)
	g, err := d.Gallery(ctx, 1)
	if err != nil || g.Name != "wanted" {
		t.Fatalf("gallery after migration = %+v, %v", g, err)
	}
	j, err := d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: 1, Spec: engine.JobSpec{Source: "/x", Purpose: "p"}, CreatedBy: "a", CreatedAt: now})
	if err != nil || j.State != engine.JobQueued || j.Total != -1 {
		t.Fatalf("job = %+v, %v", j, err)
	}
	var v int
	d.write.QueryRow("PRAGMA user_version").Scan(&v)
	if v != schemaVersion {
		t.Errorf("user_version = %d, want %d", v, schemaVersion)
	}
}

func TestJobStatesAndItems(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		d, _ := openTest(t)
		ctx := context.Background()
		g := must[engine.Gallery](t)(d.CreateGallery(ctx, engine.Gallery{Name: "ads", Kind: engine.Collection, Model: "m1", CreatedAt: now, CreatedBy: "a"}))
		j := must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g.ID, Spec: engine.JobSpec{Source: "/x", Purpose: "p"}, CreatedBy: "op", CreatedAt: now}))
		if _, err := d.CreateJob(ctx, engine.Job{Kind: "rebuild", GalleryID: g.ID, CreatedAt: now}); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("unknown kind: %v, want ErrInvalid", err)
		}
		if _, err := d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: 99, CreatedAt: now}); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("unknown gallery: %v, want ErrNotFound", err)
		}
		j = must[engine.Job](t)(d.SetJobState(ctx, j.ID, engine.JobRunning, "", now))
		if j.StartedAt == nil || j.RunStartedAt == nil || j.RunStartCount != 0 {
			t.Fatalf("running job = %+v", j)
		}
		img := engine.Image{GalleryID: g.ID, SHA256: "aa", Format: "jpeg", BlobKey: "k", CreatedAt: now, CreatedBy: "op"}
		faces := []engine.NewFace{{Face: engine.StoredFace{Model: "m1"}, Vector: []float32{1, 0}}}
		batch := []engine.IngestItem{
			{Item: engine.JobItem{Name: "a.jpg", State: engine.ItemStored}, Image: &img, Faces: faces},
			{Item: engine.JobItem{Name: "b.jpg", State: engine.ItemStored}, Image: &img, Faces: faces}, // same bytes in one batch
			{Item: engine.JobItem{Name: "c.jpg", State: engine.ItemFailed, Reason: "decode: truncated"}},
		}
		stored, after, err := d.CommitIngest(ctx, j, batch)
		if err != nil {
			t.Fatal(err)
		}
		if after.Processed != 3 || after.Stored != 1 || after.Duplicates != 1 || after.Failed != 1 || after.Faces != 1 {
			t.Errorf("counters = %+v, want 3 processed: 1 stored, 1 duplicate, 1 failed, 1 face", after)
		}
		if batch[1].Item.State != engine.ItemDuplicate || stored[1][0].ID != stored[0][0].ID {
			t.Errorf("second copy: state %s, faces %v vs %v; want a duplicate of the first", batch[1].Item.State, stored[1], stored[0])
		}
		for name, want := range map[string]bool{"a.jpg": true, "c.jpg": true, "d.jpg": false} {
			if done := must[bool](t)(d.JobItemDone(ctx, j.ID, name)); done != want {
				t.Errorf("JobItemDone(%s) = %v, want %v", name, done, want)
			}
		}
		failed := must[[]engine.JobItem](t)(d.JobItems(ctx, j.ID, engine.ItemFailed, "", 10))
		if len(failed) != 1 || failed[0].Reason != "decode: truncated" {
			t.Errorf("failed items = %+v", failed)
		}
		j = must[engine.Job](t)(d.SetJobState(ctx, j.ID, engine.JobCancelled, "", now))
		if j.FinishedAt == nil {
			t.Error("a cancelled job has no finish time")
		}
		j = must[engine.Job](t)(d.SetJobState(ctx, j.ID, engine.JobRunning, "", now))
		if j.FinishedAt != nil || j.RunStartCount != 3 {
			t.Errorf("resumed job = %+v, want no finish time and a run starting at 3", j)
		}
		if js := must[[]engine.Job](t)(d.Jobs(ctx, engine.JobFilter{State: []engine.JobState{engine.JobRunning}})); len(js) != 1 {
			t.Errorf("running jobs = %d, want 1", len(js))
		}
		// Deleting the gallery takes its jobs with it.
		must[engine.Purge](t)(d.DeleteGallery(ctx, g.ID))
		if _, err := d.Job(ctx, j.ID); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("job after its gallery's deletion: %v, want ErrNotFound", err)
		}
	})
}
