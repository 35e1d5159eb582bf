package catalog

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/facematch/facematch/engine"
)

// ReferencedBlobs answers per gallery prefix from that gallery's records, keeps the keys of
// jobs that may still run or be resumed (not a done job's), and those of pending purges; a
// deleted gallery's purge carries its jobs' archives and sidecars.
func TestReferencedBlobsAndGalleryJobKeys(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		d, _ := openTest(t)
		ctx := context.Background()
		keys := func(prefix string) []string {
			t.Helper()
			refs, err := d.ReferencedBlobs(ctx, prefix)
			if err != nil {
				t.Fatal(err)
			}
			return slices.Sorted(maps.Keys(refs))
		}
		g1 := must[engine.Gallery](t)(d.CreateGallery(ctx, engine.Gallery{Name: "a", Kind: engine.Collection, Model: "m@1", CreatedAt: now, CreatedBy: "a"}))
		g2 := must[engine.Gallery](t)(d.CreateGallery(ctx, engine.Gallery{Name: "b", Kind: engine.Collection, Model: "m@1", CreatedAt: now, CreatedBy: "a"}))
		for _, g := range []int64{g1.ID, g2.ID} {
			f := face(1, 0)
			f.Face.ThumbKey = "galleries/" + strconv.FormatInt(g, 10) + "/thumbs/s-n-0.jpg"
			if _, _, err := d.AddImage(ctx, engine.Image{GalleryID: g, SHA256: "s", Format: "jpeg", BlobKey: "galleries/" + strconv.FormatInt(g, 10) + "/images/s-n",
				CreatedAt: now, CreatedBy: "a"}, []engine.NewFace{f}); err != nil {
				t.Fatal(err)
			}
		}
		if got := keys("galleries/" + strconv.FormatInt(g1.ID, 10) + "/"); !slices.Equal(got, []string{"galleries/1/images/s-n", "galleries/1/thumbs/s-n-0.jpg"}) {
			t.Fatalf("gallery 1 references %v", got)
		}
		running := must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g1.ID,
			Spec: engine.JobSpec{Source: "upload:jobs/uploads/u1", MetaKey: "jobs/meta/m1.csv", Purpose: "p"}, CreatedBy: "op", CreatedAt: now}))
		done := must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g1.ID,
			Spec: engine.JobSpec{Source: "upload:jobs/uploads/u2", Purpose: "p"}, CreatedBy: "op", CreatedAt: now}))
		must[engine.Job](t)(d.SetJobState(ctx, done.ID, engine.JobDone, "", now))
		must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g2.ID,
			Spec: engine.JobSpec{Source: "/photos", Purpose: "p"}, CreatedBy: "op", CreatedAt: now}))
		if got := keys("jobs/"); !slices.Equal(got, []string{"jobs/meta/m1.csv", "jobs/uploads/u1"}) {
			t.Fatalf("jobs reference %v, want the unfinished job's archive and sidecar", got)
		}
		p := must[engine.Purge](t)(d.DeleteGallery(ctx, g1.ID))
		slices.Sort(p.BlobKeys)
		want := []string{"galleries/1/images/s-n", "galleries/1/thumbs/s-n-0.jpg", "jobs/meta/m1.csv", "jobs/uploads/u1", "jobs/uploads/u2"}
		if !slices.Equal(p.BlobKeys, want) {
			t.Fatalf("purge of gallery 1 = %v, want %v", p.BlobKeys, want)
		}
		if _, err := d.Job(ctx, running.ID); err == nil {
			t.Fatal("the deleted gallery's job remains")
		}
		// Until the purge is done its keys stay referenced, and the other gallery keeps its own.
		if got := keys("galleries/1/"); !slices.Equal(got, want[:2]) {
			t.Fatalf("gallery 1 with its purge pending references %v", got)
		}
		if got := keys(""); len(got) != len(want)+2 { // the purge's and gallery 2's two
			t.Fatalf("all references = %v", got)
		}
		if err := d.PurgeDone(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if got := keys("galleries/1/"); len(got) != 0 {
			t.Fatalf("gallery 1 after its purge references %v", got)
		}
	})
}
