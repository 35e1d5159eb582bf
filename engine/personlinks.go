package engine

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/facematch/facematch/engine/cluster"
	"github.com/facematch/facematch/index"
)

// Reviewers' judgements about suggested persons, kept as links between faces (issue 15): a
// merge says two persons' faces are one person, a split or a face taken out that they are not.
// Clustering honours them every time it runs, from scratch (ClusterGallery) or as a job adds
// faces (assignFaces), and a judgement that contradicts an earlier one is refused unless the
// reviewer says it supersedes it.

// FaceLink is a reviewer's judgement about two faces: the same person (a must-link) or not (a
// cannot-link).
type FaceLink struct {
	A, B int64
	Same bool
	By   string
	At   time.Time
}

// maxLinkPairs bounds the cannot-links one split or one face taken out records (faces moved ×
// faces left): a person that large is split in steps.
const maxLinkPairs = 100_000

// constraintsOf turns a gallery's judgements and its faces' photos into the constraints of a
// clustering over faces (indexed as in faces).
func constraintsOf(faces []ClusterFace, links []FaceLink) cluster.Constraints {
	at := make(map[int64]int, len(faces))
	for i, f := range faces {
		at[f.FaceID] = i
	}
	var c cluster.Constraints
	cannot := map[[2]int]bool{}
	for _, l := range links {
		a, okA := at[l.A]
		b, okB := at[l.B]
		if !okA || !okB {
			continue
		}
		if l.Same {
			c.Must = append(c.Must, [2]int{a, b})
		} else {
			cannot[[2]int{min(a, b), max(a, b)}] = true
		}
	}
	c.Cannot = func(a, b int) bool {
		return faces[a].ImageID == faces[b].ImageID || cannot[[2]int{min(a, b), max(a, b)}]
	}
	return c
}

// contradicted returns the first judgement among links that says the opposite of same about a
// pair of one face of left and one of right, if any.
func contradicted(links []FaceLink, left, right map[int64]bool, same bool) (FaceLink, bool) {
	for _, l := range links {
		if l.Same != same && (left[l.A] && right[l.B] || left[l.B] && right[l.A]) {
			return l, true
		}
	}
	return FaceLink{}, false
}

func faceSet(fs []PersonFace) map[int64]bool {
	out := make(map[int64]bool, len(fs))
	for _, f := range fs {
		out[f.FaceID] = true
	}
	return out
}

// judgementsBetween returns the judgements involving faces of left or right, refusing
// (ErrConflict) when one between them says the opposite of same, unless supersede.
func (s *Service) judgementsBetween(ctx context.Context, left, right map[int64]bool, same, supersede bool) ([]FaceLink, error) {
	ids := make([]int64, 0, len(left)+len(right))
	for f := range left {
		ids = append(ids, f)
	}
	for f := range right {
		ids = append(ids, f)
	}
	links, err := s.cfg.Catalog.FaceLinksOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	if l, ok := contradicted(links, left, right, same); ok && !supersede {
		return nil, refuseContradiction(l)
	}
	return links, nil
}

// refuseContradiction is the error for a judgement that contradicts an earlier one.
func refuseContradiction(l FaceLink) error {
	was := "not the same person"
	if l.Same {
		was = "the same person"
	}
	return fmt.Errorf("faces %d and %d were judged %s by %s at %s; to change that judgement, send supersede: true with a note: %w",
		l.A, l.B, was, l.By, l.At.UTC().Format(time.RFC3339), ErrConflict)
}

// SplitPerson moves faces of a person into a new person: a reviewer judged them another person
// than the faces left. The moved faces become one person (must-links among them) and none of
// them is the same person as any face left (cannot-links), which every later clustering
// honours. A split that contradicts an earlier merge is refused (ErrConflict naming it) unless
// supersede is set. Audited as person.split; it returns the new person.
func (s *Service) SplitPerson(ctx context.Context, a Actor, id int64, faceIDs []int64, note string, supersede bool) (Person, error) {
	faceIDs, err := DistinctIDs("face_ids", faceIDs, 10_000)
	if err != nil {
		return Person{}, err
	}
	if len(faceIDs) == 0 {
		return Person{}, fmt.Errorf("face_ids is required: the faces that are another person: %w", ErrInvalid)
	}
	p, err := s.readablePerson(ctx, a, id)
	if err != nil {
		return Person{}, err
	}
	members := faceSet(p.Faces)
	moved := map[int64]bool{}
	for _, f := range faceIDs {
		if !members[f] {
			return Person{}, fmt.Errorf("face %d is not in person %d: %w", f, id, ErrNotFound)
		}
		moved[f] = true
	}
	left := map[int64]bool{}
	for f := range members {
		if !moved[f] {
			left[f] = true
		}
	}
	if len(left) == 0 {
		return Person{}, fmt.Errorf("a split moves some of person %d's %d faces, not all of them: %w", id, len(members), ErrInvalid)
	}
	if len(moved)*len(left) > maxLinkPairs {
		return Person{}, fmt.Errorf("a split of %d faces from %d records %d judgements, at most %d: split in steps: %w",
			len(moved), len(left), len(moved)*len(left), maxLinkPairs, ErrInvalid)
	}
	if _, err := s.judgementsBetween(ctx, moved, left, false, supersede); err != nil {
		return Person{}, err
	}
	now := time.Now()
	var judged []FaceLink
	for m := range moved {
		for l := range left {
			judged = append(judged, FaceLink{A: m, B: l, Same: false, By: a.Person(), At: now})
		}
		if m != faceIDs[0] {
			judged = append(judged, FaceLink{A: faceIDs[0], B: m, Same: true, By: a.Person(), At: now})
		}
	}
	var newID int64
	input := fmt.Sprintf("faces=%v", faceIDs)
	if supersede {
		input += " supersede=true"
	}
	if _, err := s.personAction(ctx, a, id, "person.split", note, input, func(c Catalog) error {
		var err error
		if newID, err = c.SplitPerson(ctx, id, faceIDs, now); err != nil {
			return err
		}
		return c.AddFaceLinks(ctx, judged)
	}); err != nil {
		return Person{}, err
	}
	after, err := s.cfg.Catalog.Persons(ctx, 0, newID)
	if err != nil {
		return Person{}, err
	}
	return summarize(after[0]), nil
}

// assignLimit bounds the faces one assignment places (the rest wait for the next); placeK is
// how many nearest faces vote: the vote counts only those above the line, which are the first
// few, and a deeper search and larger catalog reads cost the ingest job's committer time
// (bench/RESULTS.md "Batch ingest").
const (
	assignLimit = 5_000
	placeK      = 20
)

// assignFaces places new faces of a collection among its suggested persons without clustering
// again (cluster.Assign): each face's nearest faces in the gallery's index vote with their
// persons, at the clustering's line, and a face joins the winner unless a constraint forbids it
// (a face of the same photo, a reviewer's judgement), else starts a person of its own. Like a
// re-clustering, it never adds to a person a reviewer confirmed (its faces do not vote): that
// changes by reviewers' hands only. Faces of reference galleries are not clustered. It returns
// how many faces it placed.
func (s *Service) assignFaces(ctx context.Context, g Gallery, faces []ClusterFace) (int, error) {
	if g.Kind != Collection || len(faces) == 0 {
		return 0, nil
	}
	ix, ok := s.cfg.Indexes[g.Model]
	if !ok {
		return 0, nil
	}
	// Local node space: the new faces first, then every member of the persons their
	// neighbours are in.
	nodes := append([]ClusterFace(nil), faces...)
	at := map[int64]int{}
	for i, f := range faces {
		at[f.FaceID] = i
	}
	hits := make([][]index.Hit, len(faces))
	var neighbourIDs []int64
	for i, f := range faces {
		h, err := ix.Search(ctx, g.Model, f.Vector, placeK+1, index.Filter{Galleries: []uint64{uint64(g.ID)}, Ef: clusterEf})
		if err != nil {
			return 0, fmt.Errorf("service: persons of new faces: %w", err)
		}
		hits[i] = h
		for _, x := range h {
			if _, ok := at[int64(x.ID)]; !ok {
				neighbourIDs = append(neighbourIDs, int64(x.ID))
			}
		}
	}
	personOf, err := s.cfg.Catalog.PersonsOfFaces(ctx, neighbourIDs)
	if err != nil {
		return 0, err
	}
	var personIDs []int64
	seen := map[int64]bool{}
	for _, p := range personOf {
		if !seen[p] {
			seen[p] = true
			personIDs = append(personIDs, p)
		}
	}
	members, err := s.cfg.Catalog.PersonMembers(ctx, personIDs)
	if err != nil {
		return 0, err
	}
	labels := make([]int, len(faces))
	for i := range labels {
		labels[i] = -1
	}
	// Candidate person personIDs[l] is label l, and new persons are numbered after them: only
	// persons with members to vote (a confirmed one has none here) get a label, so that no new
	// person's number is an existing person's.
	personIDs = slices.DeleteFunc(personIDs, func(p int64) bool { return len(members[p]) == 0 })
	for l, p := range personIDs {
		for _, m := range members[p] {
			if _, ok := at[m.FaceID]; ok {
				continue
			}
			at[m.FaceID] = len(nodes)
			nodes = append(nodes, m)
			labels = append(labels, l)
		}
	}
	neighbours := make([][]cluster.Edge, len(nodes))
	for i, h := range hits {
		for _, x := range h {
			if j, ok := at[int64(x.ID)]; ok && j != i {
				neighbours[i] = append(neighbours[i], cluster.Edge{To: int32(j), Sim: x.Similarity})
			}
		}
	}
	ids := make([]int64, len(faces))
	for i, f := range faces {
		ids[i] = f.FaceID
	}
	links, err := s.cfg.Catalog.FaceLinksOf(ctx, ids)
	if err != nil {
		return 0, err
	}
	c := constraintsOf(nodes, links)
	minorEdges(neighbours, nodes, s.minorPersonLine(g.Model))
	placed := cluster.Assign(labels, neighbours, PersonLine, c.Cannot)

	// A placed face's similarity to its person is its mean similarity to the members among
	// its neighbours (the person's mean vector is not read for an incremental step); a face
	// alone is its own person (1).
	joins := map[int64][]PersonMember{}
	fresh := map[int][]PersonMember{}
	var order []int
	for i, f := range faces {
		sim := meanSimWithin(neighbours[i], placed, i)
		m := PersonMember{FaceID: f.FaceID, Similarity: sim}
		if l := placed[i]; l < len(personIDs) {
			p := personIDs[l]
			joins[p] = append(joins[p], m)
			continue
		}
		if _, ok := fresh[placed[i]]; !ok {
			order = append(order, placed[i])
		}
		fresh[placed[i]] = append(fresh[placed[i]], m)
	}
	var newPersons [][]PersonMember
	for _, l := range order {
		newPersons = append(newPersons, fresh[l])
	}
	return s.cfg.Catalog.AssignPersons(ctx, g.ID, joins, newPersons, time.Now())
}

// meanSimWithin is node i's mean similarity to the members of its cluster among its
// neighbours at or above the clustering's line, 1 when there are none.
func meanSimWithin(es []cluster.Edge, labels []int, i int) float32 {
	var sum float32
	n := 0
	for _, e := range es {
		if labels[e.To] == labels[i] && e.Sim >= PersonLine {
			sum += e.Sim
			n++
		}
	}
	if n == 0 {
		return 1
	}
	return sum / float32(n)
}

// placeFaces assigns a collection's new faces to persons (assignFaces). The photos are stored
// and indexed already: a failure here loses nothing (the faces are placed by the next job or
// clustering), so it is logged, not returned.
func (s *Service) placeFaces(ctx context.Context, g Gallery, faces []ClusterFace) {
	if g.Kind != Collection || len(faces) == 0 {
		return
	}
	start := time.Now()
	n, err := s.assignFaces(ctx, g, faces)
	s.placing.faces.Add(int64(len(faces)))
	s.placing.nanos.Add(int64(time.Since(start)))
	if err != nil {
		s.log.Warn("faces not placed in persons", "gallery", g.ID, "faces", len(faces), "err", err)
		return
	}
	s.log.Debug("faces placed in persons", "gallery", g.ID, "faces", len(faces), "placed", n, "seconds", time.Since(start).Seconds())
}

// placeUnplaced assigns the faces of a collection that are in no person (left by a crash or an
// error between indexing and placing), up to assignLimit.
func (s *Service) placeUnplaced(ctx context.Context, g Gallery) {
	if g.Kind != Collection {
		return
	}
	faces, err := s.cfg.Catalog.UnassignedFaces(ctx, g.ID, g.Model, assignLimit)
	if err != nil {
		s.log.Warn("faces without a person not read", "gallery", g.ID, "err", err)
		return
	}
	s.placeFaces(ctx, g, faces)
}

// placingStats counts what placing new faces in persons cost this process.
type placingStats struct{ faces, nanos atomic.Int64 }

// PlacingCost is how many new faces this process placed in persons and the time it took (the
// ingest benchmark sets it against the job's).
func (s *Service) PlacingCost() (faces int64, took time.Duration) {
	return s.placing.faces.Load(), time.Duration(s.placing.nanos.Load())
}
