package engine_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/internal/blob/local"
	"github.com/facematch/facematch/internal/blob/s3"
	"github.com/facematch/facematch/internal/blob/s3/s3test"
)

// The sweeper on the real parts (face/facetest's models stand in for the real ones): after
// deletions and what kills leave behind, no object of the
// store (every version, on S3) is one that no record references, and the index's own objects
// are untouched.

// referenced returns every blob key a record of the catalog at path references, read with
// plain SQL: the test's own account, independent of the sweeper's query.
func referenced(t *testing.T, path string) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	refs := map[string]bool{}
	rows, err := db.Query(`SELECT blob_key FROM images UNION ALL SELECT thumb_key FROM faces
		UNION ALL SELECT probe_key FROM searches UNION ALL SELECT thumb_key FROM probe_faces`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		refs[k] = true
	}
	rows.Close()
	// A done job's archive and sidecar are no longer needed; other jobs may still run or be
	// resumed.
	rows, err = db.Query(`SELECT spec FROM jobs WHERE state != 'done'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var spec string
		var s engine.JobSpec
		if err := rows.Scan(&spec); err != nil || json.Unmarshal([]byte(spec), &s) != nil {
			t.Fatal(err)
		}
		refs[strings.TrimPrefix(s.Source, "upload:")], refs[s.MetaKey] = true, true
	}
	rows.Close()
	rows, err = db.Query(`SELECT blob_keys FROM purges`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var js string
		var keys []string
		if err := rows.Scan(&js); err != nil || json.Unmarshal([]byte(js), &keys) != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			refs[k] = true
		}
	}
	rows.Close()
	delete(refs, "")
	return refs
}

// sweepCase fills the store with records, deletions and what kills leave behind (blobs whose
// record was never written, a done job's archive that was never deleted), sweeps, and checks
// that every object left is referenced and every referenced one is still readable.
func sweepCase(t *testing.T, dir string, store objectStore, versions func() []string) {
	f := openFixtureOn(t, dir, only(fakePipeline()), store)
	g, err := f.svc.CreateGallery(ctx(), admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := f.svc.CreateGallery(ctx(), admin, "gone", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	var kept engine.Enrolled
	for i, person := range strangers[:3] {
		gid := g.ID
		if i == 2 {
			gid = gone.ID
		}
		e, err := f.svc.AddImage(ctx(), admin, engine.Upload{GalleryID: gid, Data: facetest.Photo(person, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			kept = e
		} else if i == 1 {
			if err := f.svc.DeleteImage(ctx(), admin, e.Image.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.svc.DeleteGallery(ctx(), admin, gone.ID); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Search(ctx(), analyst, engine.SearchRequest{Galleries: []int64{g.ID}, Purpose: "case 12", Data: facetest.Photo(strangers[0], 1)})
	if err != nil {
		t.Fatal(err)
	}
	queued := archiveJob(t, f, g.ID, zipOf(t, strangers[:1], 1), "file,site\np00_00.png,x\n")
	done := archiveJob(t, f, g.ID, zipOf(t, strangers[:1], 1), "")
	if _, err := f.cat.SetJobState(ctx(), done.ID, engine.JobDone, "", time.Now()); err != nil {
		t.Fatal(err) // as if the service was killed before deleting the done job's archive
	}
	// What a kill between storing blobs and writing their record leaves.
	for _, k := range []string{
		fmt.Sprintf("galleries/%d/images/%s-0123456789abcdef", g.ID, strings.Repeat("ab", 32)),
		fmt.Sprintf("galleries/%d/thumbs/%s-0123456789abcdef-0.jpg", g.ID, strings.Repeat("ab", 32)),
		fmt.Sprintf("galleries/%d/images/orphan", gone.ID),
		"searches/20261204T120000.000000000-0123456789abcdef-0123456789abcdef/probe",
		"jobs/uploads/0123456789abcdef0123456789abcdef",
		"jobs/meta/0123456789abcdef0123456789abcdef.csv",
	} {
		if err := store.Put(ctx(), k, strings.NewReader("left by a kill"), -1); err != nil {
			t.Fatal(err)
		}
	}
	// The index's own objects are no record's: the sweeper must spare its prefix.
	if err := store.Put(ctx(), "index/"+defaultModel+"/segments/0001/graph.bin", strings.NewReader("segment"), -1); err != nil {
		t.Fatal(err)
	}
	indexBefore, err := store.List(ctx(), "index/")
	if err != nil {
		t.Fatal(err)
	}

	// A sweep spares what is younger than its grace period: an upload may be between its
	// blobs and its record.
	rep, err := f.svc.Sweep(ctx(), time.Hour)
	if err != nil || rep.Deleted != 0 {
		t.Fatalf("sweep with an hour's grace: %+v, %v; want nothing deleted", rep, err)
	}
	time.Sleep(10 * time.Millisecond)
	if rep, err = f.svc.Sweep(ctx(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if rep.Deleted < 7 {
		t.Errorf("sweep deleted %d objects, want at least the 7 orphans", rep.Deleted)
	}

	refs := referenced(t, filepath.Join(dir, "meta.db"))
	unreferenced := 0
	for _, k := range allKeys(t, store) {
		if !refs[k] {
			unreferenced++
			t.Errorf("unreferenced object %s", k)
		}
	}
	if versions != nil {
		for _, k := range versions() {
			if !refs[k] && !strings.HasPrefix(k, "index/") {
				unreferenced++
				t.Errorf("a version of unreferenced object %s remains", k)
			}
		}
	}
	if unreferenced != 0 {
		t.Fatalf("%d unreferenced objects after the sweep", unreferenced)
	}
	indexAfter, err := store.List(ctx(), "index/")
	if err != nil {
		t.Fatal(err)
	}
	if len(indexAfter) != len(indexBefore) || len(indexAfter) == 0 {
		t.Fatalf("index objects: %d before the sweep, %d after; the sweeper must not touch them", len(indexBefore), len(indexAfter))
	}
	assertReadable(t, f, kept.Image.ID, facetest.Photo(strangers[0], 1))
	for _, p := range res.Faces {
		if _, err := f.svc.ProbeThumbnail(ctx(), admin, p.Face.ID); err != nil {
			t.Fatalf("probe thumbnail %d: %v", p.Face.ID, err)
		}
	}
	if j, err := f.svc.RunJob(ctx(), queued.ID, nil); err != nil || j.State != engine.JobDone {
		t.Fatalf("the queued job after the sweep: %s, %v; want done (its archive and sidecar kept)", j.State, err)
	}
	entries, err := f.cat.Entries(ctx(), engine.AuditFilter{Action: "blobs.sweep"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit entries of sweeps: %d, %v; want the one that deleted", len(entries), err)
	}
}

func TestSweepLeavesNoUnreferencedObjectsLocal(t *testing.T) {
	dir := t.TempDir()
	ls, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	sweepCase(t, dir, ls, nil)
}

func TestSweepLeavesNoUnreferencedObjectsS3(t *testing.T) {
	g := s3test.Start(t)
	const bucket = "sweep"
	store, err := s3.Open(ctx(), g.Config(bucket, "fm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx(), true); err != nil {
		t.Fatal(err)
	}
	// Every version of every object, delete markers included: a versioned bucket keeps an
	// overwritten or deleted object's bytes unless each version is removed.
	versions := func() []string {
		vs, err := g.Versions(context.Background(), bucket, "fm/")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, v := range vs {
			keys = append(keys, strings.TrimPrefix(v.Key, "fm/"))
		}
		return keys
	}
	sweepCase(t, t.TempDir(), store, versions)
}
