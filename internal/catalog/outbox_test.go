package catalog

import (
	"context"
	"testing"

	"github.com/facematch/facematch/engine"
)

// The index log is the faces' outbox: storing a face with a vector logs its addition, deleting
// it logs the deletion and forgets the vector in the earlier addition, in the same transaction;
// LogStoredFaces re-logs a stored face from its row and never a deleted one.
func TestIndexLogIsTheFacesOutbox(t *testing.T) {
	ctx := context.Background()
	d, _ := openPG(t)
	_, coll, _ := seed(t, d)
	img, faces, err := d.AddImage(ctx, engine.Image{GalleryID: coll.ID, SHA256: "o1", Format: "jpeg", BlobKey: "images/o1", CreatedAt: now},
		[]engine.NewFace{face(0.6, 0.8), face()})
	if err != nil {
		t.Fatal(err)
	}
	ops := must[[]IndexLogOp](t)(d.IndexLogAfter(ctx, "m@1", 0, 100))
	if len(ops) != 1 || ops[0].Delete || ops[0].FaceID != faces[0].ID || ops[0].GalleryID != coll.ID || len(ops[0].Vector) != 2 || ops[0].Vector[1] != 0.8 {
		t.Fatalf("after storing a face with a vector and one without: %+v", ops)
	}
	if n, err := d.LogStoredFaces(ctx, "m@1", []int64{faces[0].ID, faces[1].ID, 999}); err != nil || n != 1 {
		t.Fatalf("re-logging a stored face, a face without a vector and no face: %d, %v; want 1", n, err)
	}
	if _, err := d.DeleteImage(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	ops = must[[]IndexLogOp](t)(d.IndexLogAfter(ctx, "m@1", 0, 100))
	if len(ops) != 3 || !ops[2].Delete || ops[2].FaceID != faces[0].ID {
		t.Fatalf("after deleting the photo: %+v", ops)
	}
	for _, op := range ops {
		if op.Vector != nil {
			t.Fatalf("a deleted face's vector is still in the log: %+v", op)
		}
	}
	if n, err := d.LogStoredFaces(ctx, "m@1", []int64{faces[0].ID}); err != nil || n != 0 {
		t.Fatalf("re-logging a deleted face: %d, %v; want 0", n, err)
	}

	// A model switch (reprocessing) is a deletion from the old model's index and an addition
	// to the new one's.
	_, faces, err = d.AddImage(ctx, engine.Image{GalleryID: coll.ID, SHA256: "o2", Format: "jpeg", BlobKey: "images/o2", CreatedAt: now},
		[]engine.NewFace{face(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	j := must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.ReprocessJob, GalleryID: coll.ID,
		Spec: engine.JobSpec{Model: "m@2", Purpose: "p"}, CreatedBy: "op", CreatedAt: now}))
	if _, err := d.StageVectors(ctx, j.ID, "m@2", []engine.StagedVector{{FaceID: faces[0].ID, Vector: []float32{0, 1}}}, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SwitchModel(ctx, j.ID, coll.ID, "m@2"); err != nil {
		t.Fatal(err)
	}
	old := must[[]IndexLogOp](t)(d.IndexLogAfter(ctx, "m@1", ops[2].Seq, 100))
	added := must[[]IndexLogOp](t)(d.IndexLogAfter(ctx, "m@2", 0, 100))
	if len(old) != 2 || !old[1].Delete || old[1].FaceID != faces[0].ID || len(added) != 1 || added[0].Delete ||
		added[0].FaceID != faces[0].ID || len(added[0].Vector) != 2 || added[0].Vector[1] != 1 {
		t.Fatalf("after the switch: m@1 %+v, m@2 %+v", old, added)
	}
}
