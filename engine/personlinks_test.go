package engine_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// TestNewFacesJoinPersons: photos added to a collection join the persons of their look-alikes
// as they are stored, without clustering again; a stranger starts a person of its own; two
// faces of one photo never share one; and the result agrees with clustering from scratch.
func TestNewFacesJoinPersons(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}})
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	add := func(data []byte) engine.Enrolled {
		t.Helper()
		e, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for v := 1; v <= 3; v++ {
		add(facetest.Photo(73, v))
	}
	add(facetest.Photo(146, 1))
	group := add(facetest.Group(5, 73, 73)) // one person twice in one photo
	sizes := func() []int {
		t.Helper()
		ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, p := range ps {
			out = append(out, p.Size)
		}
		return out
	}
	if got := sizes(); len(got) != 1 || got[0] != 4 {
		t.Fatalf("persons of two faces or more after five uploads: sizes %v, want one of 4 (three photos and one face of the group)", got)
	}
	people, err := f.cat.PersonsOfFaces(ctx, []int64{group.Faces[0].ID, group.Faces[1].ID})
	if err != nil || len(people) != 2 || people[group.Faces[0].ID] == people[group.Faces[1].ID] {
		t.Errorf("the group photo's two faces: persons %v, %v; want two different", people, err)
	}
	add(facetest.Photo(146, 2))
	if got := sizes(); len(got) != 2 || got[0] != 4 || got[1] != 2 {
		t.Fatalf("after the stranger's second photo: sizes %v, want 4 and 2", got)
	}
	// Clustering from scratch agrees.
	if _, err := f.svc.ClusterGallery(ctx, admin, ads.ID); err != nil {
		t.Fatal(err)
	}
	if got := sizes(); len(got) != 2 || got[0] != 4 || got[1] != 2 {
		t.Errorf("clustered from scratch: sizes %v, want 4 and 2", got)
	}
	// A person a reviewer confirmed changes by reviewers' hands only: a new photo like it
	// does not join it.
	ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmPerson(ctx, reviewer, ps[0].ID, "same tattoo"); err != nil {
		t.Fatal(err)
	}
	late := add(facetest.Photo(73, 6))
	if held, err := f.cat.PersonsOfFaces(ctx, []int64{late.Faces[0].ID}); err != nil || len(held) != 1 || held[late.Faces[0].ID] == ps[0].ID {
		t.Errorf("a new face like a confirmed person: in %v, %v; want a person of its own", held, err)
	}
	if p, err := f.svc.PersonByID(ctx, reviewer, ps[0].ID); err != nil || p.Size != 4 {
		t.Errorf("the confirmed person after a new photo like it: %d faces, %v; want its 4", p.Size, err)
	}
}

// TestJudgementsHold: a split and a merge are reviewers' judgements that every later clustering
// honours; one that contradicts an earlier judgement is refused until the reviewer says it
// supersedes it; a person replaced by a re-clustering, a merge or a split answers where its
// faces went; a split of faces not in the person, of all of them or of none is refused; every
// action is audited.
func TestJudgementsHold(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}})
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 5; v++ {
		if _, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.Photo(73, v)}); err != nil {
			t.Fatal(err)
		}
	}
	cluster := func() engine.Person {
		t.Helper()
		if _, err := f.svc.ClusterGallery(ctx, admin, ads.ID); err != nil {
			t.Fatal(err)
		}
		ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
		if err != nil || len(ps) == 0 {
			t.Fatalf("persons: %+v, %v", ps, err)
		}
		p, err := f.svc.PersonByID(ctx, reviewer, ps[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := cluster()
	if p.Size != 5 {
		t.Fatalf("one person of 5 faces expected, got %d", p.Size)
	}
	moved := []int64{p.Faces[3].FaceID, p.Faces[4].FaceID}

	// Bad splits change nothing.
	for _, tc := range []struct {
		name  string
		faces []int64
		want  error
		says  string
	}{
		{"none", nil, engine.ErrInvalid, "face_ids is required"},
		{"all", []int64{p.Faces[0].FaceID, p.Faces[1].FaceID, p.Faces[2].FaceID, p.Faces[3].FaceID, p.Faces[4].FaceID}, engine.ErrInvalid, "not all of them"},
		{"a face of no such person", []int64{p.Faces[0].FaceID, 999_999}, engine.ErrNotFound, "face 999999 is not in person"},
	} {
		if _, err := f.svc.SplitPerson(ctx, reviewer, p.ID, tc.faces, "x", false); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("split %s: %v, want %v saying %q", tc.name, err, tc.want, tc.says)
		}
	}
	if got, _ := f.svc.PersonByID(ctx, reviewer, p.ID); got.Size != 5 {
		t.Fatalf("refused splits changed the person: %d faces", got.Size)
	}

	split, err := f.svc.SplitPerson(ctx, reviewer, p.ID, moved, "older photos show a different woman", false)
	if err != nil || split.Size != 2 || split.ID == p.ID {
		t.Fatalf("split: %+v, %v", split, err)
	}
	// Clustered again, the faces stay apart though they look alike.
	again := cluster()
	if again.Size != 3 {
		t.Errorf("after the split and a new clustering the largest person has %d faces, want 3", again.Size)
	}
	holders, err := f.cat.PersonsOfFaces(ctx, []int64{moved[0], moved[1], p.Faces[0].FaceID})
	if err != nil || holders[moved[0]] != holders[moved[1]] || holders[moved[0]] == holders[p.Faces[0].FaceID] {
		t.Errorf("after clustering again: persons of the split faces and of a face left: %v, %v", holders, err)
	}
	// The old IDs are answered with where the faces went.
	if _, err := f.svc.PersonByID(ctx, reviewer, split.ID); !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "clustered again") || !strings.Contains(err.Error(), "now in person") {
		t.Errorf("a person replaced by clustering: %v", err)
	}
	if _, err := f.svc.ConfirmPerson(ctx, reviewer, split.ID, "x"); !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "no longer exists") {
		t.Errorf("confirming a replaced person: %v", err)
	}

	// A merge contradicting the split is refused, then made when it supersedes it.
	a, b := holders[p.Faces[0].FaceID], holders[moved[0]]
	if _, err := f.svc.MergePersons(ctx, reviewer, a, b, "same", false); !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "judged not the same person by rev1") {
		t.Fatalf("a merge against a split: %v", err)
	}
	merged, err := f.svc.MergePersons(ctx, second, a, b, "the tattoo matches after all", true)
	if err != nil || merged.Size != 5 {
		t.Fatalf("a superseding merge: %+v, %v", merged, err)
	}
	if _, err := f.svc.PersonByID(ctx, reviewer, b); !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "merged into person") {
		t.Errorf("a merged-away person: %v", err)
	}
	if p := cluster(); p.Size != 5 {
		t.Errorf("after the merge and a new clustering the person has %d faces, want 5", p.Size)
	}
	// A split against the merge needs supersede too.
	p = cluster()
	if _, err := f.svc.SplitPerson(ctx, reviewer, p.ID, moved, "again", false); !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "judged the same person") {
		t.Errorf("a split against a merge: %v", err)
	}
	for _, action := range []string{"person.split", "person.merge"} {
		es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: action, Limit: 5})
		if err != nil || len(es) != 1 {
			t.Errorf("%s audited: %+v, %v", action, es, err)
		}
	}
}

// TestIndexGraph: the neighbour graph read from the gallery's index (what clustering uses past
// 20,000 faces) is the exact one on a small gallery, faces of other galleries left out.
func TestIndexGraph(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}})
	f.referenceGallery(t, "wanted", 73, 146)
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, person := range []int{73, 146, 219, 292} {
		for v := 1; v <= 6; v++ {
			if _, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.Photo(person, v)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	exact, fromIndex := f.svc.ClusterGraphs(t, ads.ID)
	if len(exact) != 24 || len(fromIndex) != 24 {
		t.Fatalf("graphs of %d and %d faces, want 24", len(exact), len(fromIndex))
	}
	for i := range exact {
		if !slices.Equal(exact[i], fromIndex[i]) {
			t.Errorf("face %d: exact neighbours %v, from the index %v", i, exact[i], fromIndex[i])
		}
	}
}

// TestNewFaceBesideOnlyAConfirmedPerson: when the only person a new face resembles is one a
// reviewer confirmed, the face starts a person of its own (its number is not the confirmed
// person's among the candidates).
func TestNewFaceBesideOnlyAConfirmedPerson(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}})
	ads, add := f.collection(t, "ads")
	add(facetest.Photo(73, 1))
	add(facetest.Photo(73, 2))
	ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
	if err != nil || len(ps) != 1 {
		t.Fatalf("persons: %+v, %v", ps, err)
	}
	if _, err := f.svc.ConfirmPerson(ctx, reviewer, ps[0].ID, "same tattoo"); err != nil {
		t.Fatal(err)
	}
	late := add(facetest.Photo(73, 3))
	faces, err := f.cat.Faces(ctx, late)
	if err != nil || len(faces) != 1 {
		t.Fatalf("faces of the new photo: %+v, %v", faces, err)
	}
	held, err := f.cat.PersonsOfFaces(ctx, []int64{faces[0].ID})
	if err != nil || len(held) != 1 || held[faces[0].ID] == ps[0].ID {
		t.Errorf("the new face: in %v, %v; want a person of its own, not confirmed person %d", held, err, ps[0].ID)
	}
}
