package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// A job's cross-match into a collection proposes a suggested person once per subject, not once
// per photo: a person seen in forty ads who resembles a notice is one review item with forty
// photos behind it. The job's workers search every new face as before; the hits wait in the
// catalog (committed with the photo) until the face is placed in a person, then groupPersonItems
// makes one item of each (person, subject) and the catalog reuses an item made earlier for the
// same pair.

// hitsPage bounds the hits read at once when a job groups what is left at its end.
const hitsPage = 5000

// matchPersons groups the job's waiting hits of the given faces (nil: all of them) into review
// items. Hits of faces without a person wait for the next call, unless final: then each such
// face stands for itself (its items are per face, as before persons).
func (s *Service) matchPersons(ctx context.Context, job Job, faceIDs []int64, final bool) (int, error) {
	made := 0
	for {
		hits, err := s.cfg.Catalog.OpenJobHits(ctx, job.ID, faceIDs, hitsPage)
		if err != nil {
			return made, fmt.Errorf("service: job %d hits: %w", job.ID, err)
		}
		items := groupPersonItems(hits, final)
		if len(items) > 0 {
			n, err := s.cfg.Catalog.RecordPersonItems(ctx, job, items)
			if err != nil {
				return made, fmt.Errorf("service: job %d person items: %w", job.ID, err)
			}
			made += n
		}
		// A page is all recorded unless its faces wait for persons; a full page of waiting
		// faces would be read again, so only the final pass (which records every hit) pages.
		if !final || len(hits) < hitsPage {
			return made, nil
		}
	}
}

// groupPersonItems makes one item of each (person, subject) among hits: the pair with the
// highest similarity (ties: the lower face IDs) stands for all of them. A reference face
// without a subject is a subject of its own; a hit whose face has no person waits (is left
// out) unless final, when its face stands for itself. A person's items are ranked from 1, the
// most similar first. (Every hit is at or above its gallery's line and among its face's k best
// subjects already, so a person's items are not cut again.)
func groupPersonItems(hits []JobFaceHit, final bool) []PersonItem {
	type key struct{ person, subject int64 }
	groups := map[key]*PersonItem{}
	var order []key
	for _, h := range hits {
		var kk key
		switch {
		case h.PersonID != nil:
			kk.person = *h.PersonID
		case final:
			kk.person = -h.FaceID // a face without a person stands for itself
		default:
			continue
		}
		kk.subject = -h.GalleryFaceID
		if h.SubjectID != nil {
			kk.subject = *h.SubjectID
		}
		it := groups[kk]
		if it == nil {
			it = &PersonItem{PersonID: h.PersonID, SubjectID: h.SubjectID}
			groups[kk] = it
			order = append(order, kk)
		}
		it.Hits = append(it.Hits, h)
		best := it.Candidate.Similarity
		if len(it.Hits) == 1 || h.Similarity > best ||
			(h.Similarity == best && (h.FaceID < it.Probe || (h.FaceID == it.Probe && h.GalleryFaceID < it.Candidate.FaceID))) {
			it.Probe = h.FaceID
			it.Candidate = Candidate{FaceID: h.GalleryFaceID, GalleryID: h.GalleryID, Similarity: h.Similarity}
		}
	}
	byPerson := map[int64][]*PersonItem{}
	var persons []int64
	for _, kk := range order {
		if _, ok := byPerson[kk.person]; !ok {
			persons = append(persons, kk.person)
		}
		byPerson[kk.person] = append(byPerson[kk.person], groups[kk])
	}
	slices.Sort(persons)
	var out []PersonItem
	for _, p := range persons {
		items := byPerson[p]
		slices.SortFunc(items, func(a, b *PersonItem) int {
			if c := cmp.Compare(b.Candidate.Similarity, a.Candidate.Similarity); c != 0 {
				return c
			}
			return cmp.Compare(a.Candidate.FaceID, b.Candidate.FaceID)
		})
		for i, it := range items {
			it.Candidate.Rank = i + 1
			slices.SortFunc(it.Hits, func(a, b JobFaceHit) int {
				return cmp.Or(cmp.Compare(a.FaceID, b.FaceID), cmp.Compare(a.GalleryFaceID, b.GalleryFaceID))
			})
			out = append(out, *it)
		}
	}
	return out
}

// regroupHits proposes again the hits that a deleted photo's review item left waiting (the
// photo was the item's best pair; the person's other photos still stand), for finished jobs: a
// running job groups its own when it ends. A failure is logged: the hits wait for the next
// deletion.
func (s *Service) regroupHits(ctx context.Context) {
	jobs, err := s.cfg.Catalog.JobsWithOpenHits(ctx, 100)
	for _, id := range jobs {
		if err != nil {
			break
		}
		var j Job
		if j, err = s.cfg.Catalog.Job(ctx, id); err == nil {
			_, err = s.matchPersons(ctx, j, nil, true)
		}
	}
	if err != nil {
		s.log.Warn("job cross-match hits not proposed again", "err", err)
	}
}
