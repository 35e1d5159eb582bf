package catalog

import (
	"context"
	"fmt"
	"testing"

	"github.com/facematch/facematch/engine"
)

// TestPersonItems: a collection job's hits wait, committed with their photos, until their
// faces have persons; a person is proposed once per subject however many of its photos hit,
// every hit stays behind its item, a later job's hits join it, a final item is proposed again
// only by a pair that scores higher, and deleting a photo takes its hits with it.
func TestPersonItems(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		ref, coll, alice := seed(t, d)
		refFaces := subjectFaces(t, d, ref, alice, 2)
		newJob := func() engine.Job {
			t.Helper()
			j := must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: coll.ID,
				Spec: engine.JobSpec{Source: "/x", Purpose: "p", CrossMatch: []int64{ref.ID}}, CreatedBy: "op", CreatedAt: now}))
			rec, _, _ := must3(t)(d.RecordSearch(ctx, engine.SearchRecord{Actor: "op", Purpose: "job", Galleries: []int64{ref.ID}, CreatedAt: now}, nil, nil))
			if err := d.SetJobSearch(ctx, j.ID, rec.ID); err != nil {
				t.Fatal(err)
			}
			j.SearchID = &rec.ID
			return j
		}
		commit := func(j engine.Job, sims ...float32) []int64 {
			t.Helper()
			var items []engine.IngestItem
			for i, sim := range sims {
				img := engine.Image{GalleryID: coll.ID, SHA256: fmt.Sprintf("ad-%d-%d", j.ID, i), Format: "jpeg", BlobKey: fmt.Sprint("images/ad-", j.ID, i), CreatedAt: now, CreatedBy: "op"}
				f := face(1, 0)
				if i == 0 { // the first photo of each batch looks under 18: the job counts it
					f.Face.Age = &engine.ApparentAge{Years: 15, Low: 11, High: 20, Model: "age@1", PossibleMinor: true, MinorLine: 25}
				}
				items = append(items, engine.IngestItem{Item: engine.JobItem{Name: fmt.Sprintf("ad%d.jpg", i), State: engine.ItemStored}, Image: &img,
					Faces: []engine.NewFace{f}, Probes: []engine.JobProbe{{Face: 0, ByPerson: true, Candidates: []engine.Candidate{
						{FaceID: refFaces[i%2], GalleryID: ref.ID, Similarity: sim, Rank: 1}}}}})
			}
			stored, after, err := d.CommitIngest(ctx, j, items)
			if err != nil {
				t.Fatal(err)
			}
			if after.Matches != 0 || after.PossibleMinors != 1 {
				t.Errorf("after the commit: %d items (before the faces had persons), %d possible minors; want 0, 1", after.Matches, after.PossibleMinors)
			}
			var ids []int64
			for _, fs := range stored {
				ids = append(ids, fs[0].ID)
			}
			return ids
		}
		group := func(j engine.Job, faces []int64) (int, []engine.JobFaceHit) {
			t.Helper()
			hits := must[[]engine.JobFaceHit](t)(d.OpenJobHits(ctx, j.ID, faces, 100))
			// One item per person (one subject here), its best pair first, as the engine groups.
			byPerson := map[int64]*engine.PersonItem{}
			var items []engine.PersonItem
			for _, h := range hits {
				if h.PersonID == nil {
					continue
				}
				it := byPerson[*h.PersonID]
				if it == nil {
					it = &engine.PersonItem{PersonID: h.PersonID, SubjectID: h.SubjectID}
					byPerson[*h.PersonID] = it
				}
				it.Hits = append(it.Hits, h)
				if h.Similarity > it.Candidate.Similarity {
					it.Probe, it.Candidate = h.FaceID, engine.Candidate{FaceID: h.GalleryFaceID, GalleryID: h.GalleryID, Similarity: h.Similarity, Rank: 1}
				}
			}
			for _, it := range byPerson {
				items = append(items, *it)
			}
			return must[int](t)(d.RecordPersonItems(ctx, j, items)), hits
		}

		j1 := newJob()
		faces := commit(j1, 0.81, 0.86, 0.83)
		if n, hits := group(j1, faces); n != 0 || len(hits) != 3 || hits[0].PersonID != nil || *hits[0].SubjectID != alice.ID {
			t.Fatalf("before persons: %d items, hits %+v; want 3 waiting hits of Alice, no item", n, hits)
		}
		var members []engine.PersonMember
		for _, f := range faces {
			members = append(members, engine.PersonMember{FaceID: f, Similarity: 0.9})
		}
		if err := d.ReplacePersons(ctx, coll.ID, [][]engine.PersonMember{members}, now); err != nil {
			t.Fatal(err)
		}
		if n, _ := group(j1, faces); n != 1 {
			t.Fatalf("%d items for one person's three photos of one subject, want 1", n)
		}
		ms := must[[]engine.Match](t)(d.Matches(ctx, engine.MatchFilter{}))
		if len(ms) != 1 || ms[0].PersonID == nil || ms[0].JobID == nil || *ms[0].JobID != j1.ID {
			t.Fatalf("matches %+v, want one person-level item of the job", ms)
		}
		item := ms[0]
		if sup := must[[]engine.MatchSupport](t)(d.MatchSupport(ctx, item.ID, 10)); len(sup) != 3 || sup[0].Similarity != 0.86 {
			t.Errorf("support %+v, want the three photos, most similar first", sup)
		}
		if left := must[[]engine.JobFaceHit](t)(d.OpenJobHits(ctx, j1.ID, nil, 10)); len(left) != 0 {
			t.Errorf("%d hits still waiting, want none", len(left))
		}
		if j := must[engine.Job](t)(d.Job(ctx, j1.ID)); j.Matches != 1 {
			t.Errorf("job counts %d matches, want 1", j.Matches)
		}

		// A later job's photo of the same person joins the item, pending or final, unless it
		// scores higher than a final item: then it is proposed again.
		j2 := newJob()
		later := commit(j2, 0.84)
		if err := d.ReplacePersons(ctx, coll.ID, [][]engine.PersonMember{append(members, engine.PersonMember{FaceID: later[0], Similarity: 0.9})}, now); err != nil {
			t.Fatal(err)
		}
		person := must[[]engine.JobFaceHit](t)(d.OpenJobHits(ctx, j2.ID, nil, 10))[0].PersonID
		reuse := func(sim float32) int {
			t.Helper()
			return must[int](t)(d.RecordPersonItems(ctx, j2, []engine.PersonItem{{PersonID: person, SubjectID: &alice.ID, Probe: later[0],
				Candidate: engine.Candidate{FaceID: refFaces[0], GalleryID: ref.ID, Similarity: sim, Rank: 1},
				Hits:      []engine.JobFaceHit{{FaceID: later[0], GalleryFaceID: refFaces[0]}}}}))
		}
		// The persons were replaced: the item keeps the old person's ID, so the new ID is a new
		// person. Record under the old one to test reuse.
		person = item.PersonID
		if n := reuse(0.84); n != 0 {
			t.Errorf("a pending item's person hit again: %d new items, want 0", n)
		}
		// A better pair for a pending, undecided item: the item shows it.
		if n := reuse(0.88); n != 0 {
			t.Errorf("a pending item's person, a better pair: %d new items, want 0", n)
		}
		if m := must[engine.Match](t)(d.Match(ctx, item.ID)); m.Similarity != 0.88 || must[engine.ProbeFace](t)(d.ProbeFace(ctx, m.ProbeFaceID)).FaceID == nil ||
			*must[engine.ProbeFace](t)(d.ProbeFace(ctx, m.ProbeFaceID)).FaceID != later[0] {
			t.Errorf("the item after a better pair: %+v, want 0.88 with probe face %d", m, later[0])
		}
		for _, r := range []string{"r1", "r2"} {
			must[engine.Match](t)(d.Decide(ctx, item.ID, r, engine.NoCandidate, "", 2))
		}
		if n := reuse(0.87); n != 0 {
			t.Errorf("a final item's person, scoring lower: %d new items, want 0", n)
		}
		if m := must[engine.Match](t)(d.Match(ctx, item.ID)); m.Similarity != 0.88 {
			t.Errorf("a decided item changed its pair: %+v", m)
		}
		if n := reuse(0.9); n != 1 {
			t.Errorf("a final item's person, scoring higher: %d new items, want 1", n)
		}

		// Deleting the photo of an item's best pair deletes the item and its hits, and sends the
		// person's other hits back to wait (the engine proposes them again).
		probe := must[engine.StoredFace](t)(d.Face(ctx, later[0]))
		must[engine.Purge](t)(d.DeleteImage(ctx, probe.ImageID))
		if _, err := d.Match(ctx, item.ID); err == nil {
			t.Errorf("item %d outlived the photo of its best pair", item.ID)
		}
		if open := must[[]engine.JobFaceHit](t)(d.OpenJobHits(ctx, j1.ID, nil, 10)); len(open) != 3 {
			t.Errorf("waiting hits after the deletion: %+v, want the first job's three", open)
		}
		if jobs := must[[]int64](t)(d.JobsWithOpenHits(ctx, 10)); len(jobs) != 0 {
			t.Errorf("jobs with waiting hits %v: want none, the jobs never finished", jobs)
		}
		var n int
		if err := d.read.QueryRowContext(ctx, `SELECT count(*) FROM job_face_hits WHERE face_id = ?`, later[0]).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d hits of the deleted face left (%v)", n, err)
		}
	})
}

func must3(t testing.TB) func(engine.SearchRecord, []engine.ProbeFace, []engine.SearchCandidate, error) (engine.SearchRecord, []engine.ProbeFace, []engine.SearchCandidate) {
	return func(r engine.SearchRecord, p []engine.ProbeFace, c []engine.SearchCandidate, err error) (engine.SearchRecord, []engine.ProbeFace, []engine.SearchCandidate) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r, p, c
	}
}
